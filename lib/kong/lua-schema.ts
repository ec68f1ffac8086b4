import { entityChecks, type FieldDefinition, type PluginDescription } from './plugin.js';

/**
 * The plugin's schema as a Kong `schema.lua`, for Konnect, which accepts custom plugins only as Lua
 * schemas. Generated from the same Schema the plugin server dumps, so the two cannot drift.
 */
export function luaSchema(description: PluginDescription): string {
  const fields = description.Schema.map((entry) => {
    const [[name, definition]] = Object.entries(entry) as [[string, FieldDefinition]];
    return `          { ${luaKey(name)} = ${luaValue(definition)} },`;
  });
  const checks = description.EntityChecks
    ? ['  entity_checks = {', ...entityChecks(description).map((check) => `    ${luaValue(check)},`), '  },']
    : [];
  return [
    `-- Generated from plugins/${description.Name}.ts by \`make build\`; do not edit.`,
    'local typedefs = require "kong.db.schema.typedefs"',
    '',
    'return {',
    `  name = ${luaString(description.Name)},`,
    '  fields = {',
    '    { protocols = typedefs.protocols_http },',
    '    { config = {',
    '        type = "record",',
    '        fields = {',
    ...fields,
    '        },',
    '      },',
    '    },',
    '  },',
    ...checks,
    '}',
    '',
  ].join('\n');
}

function luaKey(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : `[${luaString(name)}]`;
}

function luaString(value: string): string {
  return JSON.stringify(value).replace(/\\u([0-9a-f]{4})/g, (_, hex: string) => `\\u{${hex}}`);
}

function luaValue(value: unknown): string {
  if (typeof value === 'string') return luaString(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const table = (items: string[]) => (items.length === 0 ? '{}' : `{ ${items.join(', ')} }`);
  if (Array.isArray(value)) return table(value.map(luaValue));
  if (value !== null && typeof value === 'object') return table(Object.entries(value).map(([k, v]) => `${luaKey(k)} = ${luaValue(v)}`));
  throw new Error(`no Lua form for ${String(value)}`);
}
