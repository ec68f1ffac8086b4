import { VARIABLES, type Variable } from './config.js';

/** The environment table of docs/configuration.md (`make docs` writes it there; a test compares the two). */
export function environmentTable(): string {
  const rows = Object.entries(VARIABLES).map(([name, variable]: [string, Variable<unknown>]) => {
    const allowed = variable.parser.allowed?.((literal) => `\`${literal}\``);
    const meaning = allowed === undefined ? variable.meaning : `${allowed[0]?.toUpperCase()}${allowed.slice(1)}. ${variable.meaning}`;
    return `| \`${name}\` | ${variable.default === undefined ? '—' : `\`${variable.default}\``} | ${meaning} |\n`;
  });
  return `| name | default | meaning |\n|---|---|---|\n${rows.join('')}`;
}
