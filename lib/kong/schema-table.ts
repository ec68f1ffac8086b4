import type { FieldDefinition, SchemaField } from './plugin.js';

function typeOf(definition: FieldDefinition): string {
  if (definition.one_of) return `string: ${definition.one_of.map((value) => `\`${value}\``).join(' or ')}`;
  if (definition.type === 'array') return 'array of strings';
  if (definition.between) return `${definition.type}, ${definition.between[0]}–${definition.between[1]}`;
  return definition.type;
}

function defaultOf(definition: FieldDefinition): string {
  if (definition.default === undefined) return '—';
  if (Array.isArray(definition.default)) return `\`[${definition.default.join(', ')}]\``;
  return `\`${String(definition.default)}\``;
}

/** A plugin's fields as the table docs/configuration.md shows (`make docs` writes it there). */
export function schemaTable(schema: readonly SchemaField[]): string {
  const rows = schema.map((entry) => {
    const [[name, definition]] = Object.entries(entry) as [[string, FieldDefinition]];
    return `| \`${name}\` | ${typeOf(definition)} | ${defaultOf(definition)} | ${definition.description} |`;
  });
  return ['| field | type | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}
