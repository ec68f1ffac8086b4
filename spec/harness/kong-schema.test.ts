import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  validatePluginConfig,
  validatePluginInfo,
  UnsupportedByHarness,
  type EntityCheck,
  type FieldEntry,
  type PluginInfo,
} from '../../kong/stand-in/kong-schema.js';

function pluginWith(fields: FieldEntry[], overrides: Partial<PluginInfo> = {}): PluginInfo {
  return {
    Name: 'demo',
    Version: '1.0.0',
    Priority: 1000,
    Phases: ['access'],
    Schema: { name: 'demo', fields: [{ config: { type: 'record', fields } }] },
    ...overrides,
  };
}

function configErrors(fields: FieldEntry[], config: Record<string, unknown>): Record<string, unknown> {
  const result = validatePluginConfig(pluginWith(fields), config);
  assert.equal(result.ok, false, 'expected the config to be rejected');
  return result.ok ? {} : result.errors;
}

function acceptedConfig(fields: FieldEntry[], config: Record<string, unknown>): Record<string, unknown> {
  const result = validatePluginConfig(pluginWith(fields), config);
  assert.ok(result.ok, `expected the config to be accepted, got ${JSON.stringify(result.ok ? {} : result.errors)}`);
  return result.config;
}

// --- validatePluginInfo -----------------------------------------------------------------

test('a plugin info as kong-pdk prints it is accepted', () => {
  const info = pluginWith([
    { ttl_seconds: { type: 'integer', required: true, default: 300, between: [60, 86400] } },
    { scopes: { type: 'set', elements: { type: 'string', one_of: ['read', 'write'] }, default: [] } },
    { redis: { type: 'record', fields: [{ host: { type: 'string', default: 'localhost' } }] } },
    { headers: { type: 'map', keys: { type: 'string' }, values: { type: 'string' } } },
  ]);
  assert.deepEqual(validatePluginInfo(info), []);
});

test('info must be an object and its top-level keys well-typed', () => {
  assert.deepEqual(validatePluginInfo('demo'), ['plugin info: expected an object']);
  assert.deepEqual(validatePluginInfo(pluginWith([], { Name: 42 as unknown as string, Schema: { name: '42', fields: [] } })), [
    'Name: expected a string',
  ]);
});

test('Schema.name must equal Name', () => {
  const info = pluginWith([], { Schema: { name: 'other', fields: [{ config: { type: 'record', fields: [] } }] } });
  assert.deepEqual(validatePluginInfo(info), ['Schema.name: must equal Name "demo", got "other"']);
});

test('Priority must be an integer (kong/db/dao/plugins.lua valid_priority)', () => {
  assert.deepEqual(validatePluginInfo(pluginWith([], { Priority: 10.5 })), [
    'Priority: Plugin "demo" cannot be loaded because its PRIORITY field is not a valid integer number, got: "10.5".',
  ]);
});

test('Version must parse as at most three numbers (version.lua, non-strict)', () => {
  for (const accepted of ['1.0.0', '2.1', 'v1.2.3', '1.0.0-beta.1']) {
    assert.deepEqual(validatePluginInfo(pluginWith([], { Version: accepted })), [], accepted);
  }
  assert.deepEqual(validatePluginInfo(pluginWith([], { Version: '1.2.3.4' })), [
    'Version: Plugin "demo" cannot be loaded because its VERSION field does not follow the "x.y.z" format, got: "1.2.3.4".',
  ]);
  assert.equal(validatePluginInfo(pluginWith([], { Version: 'latest' })).length, 1);
});

test('Phases must be known phase names', () => {
  assert.deepEqual(validatePluginInfo(pluginWith([], { Phases: ['access', 'header_filter'] })), [
    'Phases[1]: unknown phase "header_filter" (expected one of: certificate, rewrite, access, response, preread, log)',
  ]);
  assert.deepEqual(validatePluginInfo(pluginWith([], { Phases: 'access' as unknown as string[] })), ['Phases: expected an array']);
});

test('field types must be ones Kong knows', () => {
  assert.deepEqual(validatePluginInfo(pluginWith([{ name: { type: 'text' } }])), [
    'config.name.type: expected one of: array, set, string, number, boolean, integer, foreign, map, record, function, json',
  ]);
});

test('a field without type is reported twice, like Kong does', () => {
  assert.deepEqual(validatePluginInfo(pluginWith([{ name: { required: true } as never }])), [
    'config.name.type: required field missing',
    'config.name: missing type declaration',
  ]);
});

test('unknown attributes are unknown fields of the metaschema', () => {
  assert.deepEqual(validatePluginInfo(pluginWith([{ name: { type: 'string', nullable: true } }])), ['config.name.nullable: unknown field']);
});

test('attributes restricted to some types (metaschema attribute_types)', () => {
  assert.deepEqual(validatePluginInfo(pluginWith([{ name: { type: 'string', between: [1, 2] } }])), [
    "config.name: field of type 'string' cannot have attribute 'between'",
  ]);
  assert.deepEqual(validatePluginInfo(pluginWith([{ port: { type: 'integer', one_of: [1, 2], uuid: true } }])), [
    "config.port: field of type 'integer' cannot have attribute 'uuid'",
  ]);
});

test('attribute values are type-checked', () => {
  assert.deepEqual(validatePluginInfo(pluginWith([{ n: { type: 'integer', between: [1] } }])), ['config.n.between: length must be 2']);
  assert.deepEqual(validatePluginInfo(pluginWith([{ s: { type: 'string', len_min: 1.5 } }])), ['config.s.len_min: expected an integer']);
  assert.deepEqual(validatePluginInfo(pluginWith([{ s: { type: 'string', required: 'yes' as never } }])), [
    'config.s.required: expected a boolean',
  ]);
});

test('a description must be 10 to 500 bytes long', () => {
  assert.deepEqual(validatePluginInfo(pluginWith([{ s: { type: 'string', description: 'a name' } }])), [
    'config.s.description: length must be at least 10',
  ]);
});

test('array, set, map and record fields must declare their parts', () => {
  assert.deepEqual(validatePluginInfo(pluginWith([{ a: { type: 'array' } }])), ["config.a: field of type 'array' must declare 'elements'"]);
  assert.deepEqual(validatePluginInfo(pluginWith([{ s: { type: 'set' } }])), ["config.s: field of type 'set' must declare 'elements'"]);
  assert.deepEqual(validatePluginInfo(pluginWith([{ m: { type: 'map', keys: { type: 'string' } } }])), [
    "config.m: field of type 'map' must declare 'values'",
  ]);
  assert.deepEqual(validatePluginInfo(pluginWith([{ r: { type: 'record' } }])), ["config.r: field of type 'record' must declare 'fields'"]);
});

test('nested definitions are checked with their path', () => {
  const info = pluginWith([
    { scopes: { type: 'array', elements: { type: 'string', between: [1, 2] } } },
    { redis: { type: 'record', fields: [{ port: { type: 'integer', between: 'x' as never } }] } },
  ]);
  assert.deepEqual(validatePluginInfo(info), [
    "config.scopes.elements: field of type 'string' cannot have attribute 'between'",
    'config.redis.port.between: expected an array',
  ]);
});

test('a default must be a valid value for its own field', () => {
  assert.deepEqual(validatePluginInfo(pluginWith([{ ttl: { type: 'integer', between: [60, 86400], default: 10 } }])), [
    'config.ttl.default: value should be between 60 and 86400',
  ]);
  assert.deepEqual(validatePluginInfo(pluginWith([{ issuer: { type: 'string', default: '' } }])), [
    'config.issuer.default: length must be at least 1',
  ]);
  assert.deepEqual(validatePluginInfo(pluginWith([{ mode: { type: 'string', one_of: ['a', 'b'], default: 'c' } }])), [
    'config.mode.default: expected one of: a, b',
  ]);
  assert.deepEqual(validatePluginInfo(pluginWith([{ tags: { type: 'array', elements: { type: 'string' }, default: ['ok', 7] } }])), [
    'config.tags.default[1]: expected a string',
  ]);
});

test('each fields entry is a map with exactly one key', () => {
  const twoKeys = { a: { type: 'string' }, b: { type: 'string' } };
  assert.deepEqual(validatePluginInfo(pluginWith([twoKeys])), ['config.fields[0]: length must be 1']);
  assert.deepEqual(validatePluginInfo(pluginWith([{}])), [
    'config.fields[0]: length must be 1',
    'config.fields[0]: field entry table is empty',
  ]);
});

test('a plugin schema may only specialise fields of the plugins entity', () => {
  const info = pluginWith([], {
    Schema: { name: 'demo', fields: [{ config: { type: 'record', fields: [] } }, { extra: { type: 'string' } }] },
  });
  assert.deepEqual(validatePluginInfo(info), ["extra: error in definition of 'demo': extra: cannot create a new field"]);
  const wrongType = pluginWith([], { Schema: { name: 'demo', fields: [{ config: { type: 'string' } }] } });
  assert.deepEqual(validatePluginInfo(wrongType), [
    "config: error in definition of 'demo': config: cannot change type in a specialized field",
  ]);
});

test('unknown keys of the schema table are rejected', () => {
  const info = pluginWith([]);
  const withExtra = { ...info, Schema: { ...info.Schema, version: 2 } };
  assert.deepEqual(validatePluginInfo(withExtra), ['Schema.version: unknown field']);
});

/** A plugin with one `mode` field and these entity checks (shapes Kong may refuse, hence unknown). */
function pluginWithChecks(checks: unknown): PluginInfo {
  const info = pluginWith([{ mode: { type: 'string', one_of: ['a', 'b'] } }, { issuer: { type: 'string' } }]);
  return { ...info, Schema: { ...info.Schema, entity_checks: checks as EntityCheck[] } };
}

const IF_MODE_A = { if_field: 'config.mode', if_match: { eq: 'a' }, then_field: 'config.issuer', then_match: { required: true } };
// Kong lists the checkers in an order that differs between runs; the harness, in init.lua's.
const ONE_CHECKER =
  "exactly one of these fields must be non-empty: 'at_least_one_of', 'conditional_at_least_one_of', 'only_one_of', 'distinct', " +
  "'conditional', 'custom_entity_check', 'mutually_required', 'mutually_exclusive', 'mutually_exclusive_sets'";

test('entity checks Kong accepts', () => {
  const checks = [
    { conditional: IF_MODE_A },
    { conditional: { ...IF_MODE_A, if_match: { required: true }, then_match: { len_min: 1, one_of: ['x'] }, then_err: 'needs %s' } },
    { conditional: { ...IF_MODE_A, then_match: { elements: { type: 'string', one_of: ['x'] } } } },
    { at_least_one_of: ['config.mode', 'config.issuer'] },
    {
      conditional_at_least_one_of: {
        if_field: 'config.mode',
        if_match: { eq: 'b' },
        then_at_least_one_of: ['config.issuer'],
        then_err: 'mode b needs %s',
      },
    },
    { mutually_exclusive_sets: { set1: ['config.mode'], set2: ['config.issuer'] } },
  ];
  assert.deepEqual(validatePluginInfo(pluginWithChecks(checks)), []);
});

test('each entity check names exactly one checker (metaschema only_one_of)', () => {
  assert.deepEqual(validatePluginInfo(pluginWithChecks([{}])), [`Schema.entity_checks[0]: ${ONE_CHECKER}`]);
  assert.deepEqual(validatePluginInfo(pluginWithChecks([{ conditional: IF_MODE_A, at_least_one_of: ['config.mode'] }])), [
    `Schema.entity_checks[0]: ${ONE_CHECKER}`,
  ]);
  assert.deepEqual(validatePluginInfo(pluginWithChecks([{ conditional: IF_MODE_A }, { conditionl: IF_MODE_A }])), [
    'Schema.entity_checks[1].conditionl: unknown field',
    `Schema.entity_checks[1]: ${ONE_CHECKER}`,
  ]);
  assert.deepEqual(validatePluginInfo(pluginWithChecks({ conditional: IF_MODE_A })), ['Schema.entity_checks: expected an array']);
});

test('a conditional check is validated as the metaschema does, its matches as field attributes', () => {
  const errors = (conditional: Record<string, unknown>) =>
    validatePluginInfo(pluginWithChecks([{ conditional: { ...IF_MODE_A, ...conditional } }]));
  assert.deepEqual(errors({ if_match: { equals: 'a' } }), ['Schema.entity_checks[0].conditional.if_match.equals: unknown field']);
  assert.deepEqual(errors({ then_match: { min_len: 1 } }), ['Schema.entity_checks[0].conditional.then_match.min_len: unknown field']);
  assert.deepEqual(errors({ if_match: { len_min: '1' } }), ['Schema.entity_checks[0].conditional.if_match.len_min: expected an integer']);
  assert.deepEqual(errors({ if_match: { required: 'yes' } }), [
    'Schema.entity_checks[0].conditional.if_match.required: expected a boolean',
  ]);
  assert.deepEqual(errors({ if_field: 5 }), ['Schema.entity_checks[0].conditional.if_field: expected a string']);
  assert.deepEqual(errors({ then_match: { elements: { one_of: ['x'] } } }), [
    'Schema.entity_checks[0].conditional.then_match.elements.type: required field missing',
  ]);
  assert.deepEqual(errors({ other: true }), ['Schema.entity_checks[0].conditional.other: unknown field']);
});

test("a record field's own entity checks are validated too", () => {
  const record = (checks: unknown[]) =>
    pluginWith([{ r: { type: 'record', fields: [{ a: { type: 'string' } }], entity_checks: checks as never } }]);
  assert.deepEqual(validatePluginInfo(record([{ at_least_one_of: ['a'] }])), []);
  assert.deepEqual(validatePluginInfo(record([{ at_least_one_of: 'a' }])), [
    'config.r.entity_checks[0].at_least_one_of: expected an array',
  ]);
});

test('Kong does not check that the fields an entity check names exist', () => {
  // Kong 3.10 then skips a check whose fields are all absent; 3.9 fails each config with a Lua error.
  assert.deepEqual(validatePluginInfo(pluginWithChecks([{ conditional: { ...IF_MODE_A, if_field: 'mode', then_field: 'issuer' } }])), []);
});

// --- validatePluginConfig: defaults and output shape ----------------------------------------

const TOKEN_FIELDS: FieldEntry[] = [
  { issuer: { type: 'string', required: true } },
  { ttl_seconds: { type: 'integer', required: true, default: 300, between: [60, 86400] } },
  { audience: { type: 'string' } },
  { scopes: { type: 'set', elements: { type: 'string' }, default: [] } },
  { debug: { type: 'boolean', default: false } },
];

test('defaults are filled and unset optional fields stay absent', () => {
  const config = acceptedConfig(TOKEN_FIELDS, { issuer: 'kong' });
  assert.deepEqual(config, { issuer: 'kong', ttl_seconds: 300, scopes: [], debug: false });
  assert.equal('audience' in config, false);
});

test('given values are kept and empty arrays stay arrays', () => {
  const config = acceptedConfig(TOKEN_FIELDS, { issuer: 'kong', ttl_seconds: 60, audience: 'api', scopes: [], debug: true });
  assert.deepEqual(config, { issuer: 'kong', ttl_seconds: 60, audience: 'api', scopes: [], debug: true });
});

test('an empty JSON object given for an array is an empty array (both are an empty Lua table)', () => {
  assert.deepEqual(acceptedConfig(TOKEN_FIELDS, { issuer: 'kong', scopes: {} }).scopes, []);
});

test('explicit null on an optional field with a default: Kong keeps null, so the plugin sees no field', () => {
  const config = acceptedConfig(TOKEN_FIELDS, { issuer: 'kong', debug: null });
  assert.equal('debug' in config, false);
});

test('explicit null on a required field with a default is "required field missing"', () => {
  assert.deepEqual(configErrors(TOKEN_FIELDS, { issuer: 'kong', ttl_seconds: null }), { ttl_seconds: 'required field missing' });
});

test('nested records are required by default and get their defaults when absent', () => {
  const fields: FieldEntry[] = [
    {
      redis: {
        type: 'record',
        fields: [
          { host: { type: 'string', default: 'localhost' } },
          { port: { type: 'integer', default: 6379 } },
          { password: { type: 'string' } },
        ],
      },
    },
  ];
  assert.deepEqual(acceptedConfig(fields, {}), { redis: { host: 'localhost', port: 6379 } });
  assert.deepEqual(acceptedConfig(fields, { redis: { port: 6380 } }), { redis: { host: 'localhost', port: 6380 } });
  assert.deepEqual(configErrors(fields, { redis: null }), { redis: 'required field missing' });
});

test('a record marked required: false stays absent when not given', () => {
  const fields: FieldEntry[] = [
    { redis: { type: 'record', required: false, fields: [{ host: { type: 'string', default: 'localhost' } }] } },
  ];
  assert.deepEqual(acceptedConfig(fields, {}), {});
});

test('a record inside an array element is not made required, so it stays absent', () => {
  const fields: FieldEntry[] = [
    {
      rules: {
        type: 'array',
        elements: { type: 'record', fields: [{ inner: { type: 'record', fields: [{ x: { type: 'string', default: 'd' } }] } }] },
      },
    },
  ];
  assert.deepEqual(acceptedConfig(fields, { rules: [{}] }), { rules: [{}] });
});

test('the default of an optional record is completed with its nested defaults', () => {
  const fields: FieldEntry[] = [
    {
      limits: {
        type: 'record',
        required: false,
        default: { a: 'x' },
        fields: [{ a: { type: 'string' } }, { b: { type: 'string', default: 'd' } }],
      },
    },
  ];
  assert.deepEqual(acceptedConfig(fields, {}), { limits: { a: 'x', b: 'd' } });
});

test('records inside arrays get their defaults too', () => {
  const fields: FieldEntry[] = [
    {
      rules: {
        type: 'array',
        elements: {
          type: 'record',
          fields: [
            { path: { type: 'string', required: true } },
            { methods: { type: 'set', elements: { type: 'string' }, default: ['GET'] } },
          ],
        },
      },
    },
  ];
  assert.deepEqual(acceptedConfig(fields, { rules: [{ path: '/a' }] }), { rules: [{ path: '/a', methods: ['GET'] }] });
});

// --- validatePluginConfig: errors ---------------------------------------------------------

test('an unknown field is "unknown field"', () => {
  assert.deepEqual(configErrors(TOKEN_FIELDS, { issuer: 'kong', ttl: 60 }), { ttl: 'unknown field' });
});

test('a required field without default is "required field missing"', () => {
  assert.deepEqual(configErrors(TOKEN_FIELDS, {}), { issuer: 'required field missing' });
});

test("type errors use Kong's messages", () => {
  const fields: FieldEntry[] = [
    { i: { type: 'integer' } },
    { n: { type: 'number' } },
    { s: { type: 'string' } },
    { b: { type: 'boolean' } },
    { a: { type: 'array', elements: { type: 'string' } } },
    { st: { type: 'set', elements: { type: 'string' } } },
    { m: { type: 'map', keys: { type: 'string' }, values: { type: 'string' } } },
    { r: { type: 'record', fields: [] } },
  ];
  const errors = configErrors(fields, { i: 1.5, n: '1', s: 1, b: 'true', a: { x: 1 }, st: 'a', m: 'x', r: 'x' });
  assert.deepEqual(errors, {
    i: 'expected an integer',
    n: 'expected a number',
    s: 'expected a string',
    b: 'expected a boolean',
    a: 'expected an array',
    st: 'expected a set',
    m: 'expected a map',
    r: 'expected a record',
  });
});

test('between reports its bounds (formatted with %d)', () => {
  assert.equal(configErrors(TOKEN_FIELDS, { issuer: 'kong', ttl_seconds: 30 }).ttl_seconds, 'value should be between 60 and 86400');
  const fractional: FieldEntry[] = [{ ratio: { type: 'number', between: [0.5, 1.5] } }];
  assert.equal(configErrors(fractional, { ratio: 2 }).ratio, 'value should be between 0 and 1');
});

test('one_of lists the options; it runs before the implicit length check', () => {
  const fields: FieldEntry[] = [{ alg: { type: 'string', one_of: ['HS256', 'HS512'] } }];
  assert.equal(configErrors(fields, { alg: 'RS256' }).alg, 'expected one of: HS256, HS512');
  assert.equal(configErrors(fields, { alg: '' }).alg, 'expected one of: HS256, HS512');
});

test('strings have an implicit minimum length of 1', () => {
  assert.equal(configErrors(TOKEN_FIELDS, { issuer: '' }).issuer, 'length must be at least 1');
  const optional: FieldEntry[] = [{ prefix: { type: 'string', len_min: 0 } }];
  assert.deepEqual(acceptedConfig(optional, { prefix: '' }), { prefix: '' });
});

test('len_min and len_max count bytes, not characters', () => {
  const fields: FieldEntry[] = [{ code: { type: 'string', len_min: 2, len_max: 3 } }];
  assert.equal(configErrors(fields, { code: 'a' }).code, 'length must be at least 2');
  assert.equal(configErrors(fields, { code: 'abcd' }).code, 'length must be at most 3');
  assert.equal(configErrors(fields, { code: 'éé' }).code, 'length must be at most 3');
  assert.deepEqual(acceptedConfig(fields, { code: 'é' }), { code: 'é' });
});

test('len_min on arrays counts elements', () => {
  const fields: FieldEntry[] = [{ keys: { type: 'array', elements: { type: 'string' }, len_min: 1 } }];
  assert.equal(configErrors(fields, { keys: [] }).keys, 'length must be at least 1');
});

test('gt uses Lua number formatting', () => {
  const fields: FieldEntry[] = [{ timeout: { type: 'number', gt: 0.5 } }];
  assert.equal(configErrors(fields, { timeout: 0.5 }).timeout, 'value must be greater than 0.5');
});

test('array element errors are positional, with null for valid elements', () => {
  const fields: FieldEntry[] = [{ scopes: { type: 'array', elements: { type: 'string' } } }];
  assert.deepEqual(configErrors(fields, { scopes: ['read', 7, 'write', false] }).scopes, [
    null,
    'expected a string',
    null,
    'expected a string',
  ]);
  assert.deepEqual(configErrors(fields, { scopes: [1, 'ok'] }).scopes, ['expected a string']);
  assert.deepEqual(configErrors(fields, { scopes: ['ok', null] }).scopes, [null, 'required field missing']);
});

test('element validators apply per element', () => {
  const fields: FieldEntry[] = [{ scopes: { type: 'array', elements: { type: 'string', one_of: ['read', 'write'] } } }];
  assert.deepEqual(configErrors(fields, { scopes: ['read', 'admin'] }).scopes, [null, 'expected one of: read, write']);
});

test('sets drop duplicates before validation, so error positions refer to the de-duplicated list', () => {
  const fields: FieldEntry[] = [{ scopes: { type: 'set', elements: { type: 'string' } } }];
  assert.deepEqual(acceptedConfig(fields, { scopes: ['read', 'write', 'read'] }).scopes, ['read', 'write']);
  assert.deepEqual(configErrors(fields, { scopes: ['read', 'read', 5] }).scopes, [null, 'expected a string']);
});

test('nested record errors are nested objects', () => {
  const fields: FieldEntry[] = [
    {
      redis: { type: 'record', fields: [{ host: { type: 'string', required: true } }, { port: { type: 'integer', between: [1, 65535] } }] },
    },
  ];
  const errors = configErrors(fields, { redis: { port: 0, db: 1 } });
  assert.deepEqual(errors, { redis: { port: 'value should be between 1 and 65535', db: 'unknown field', host: 'required field missing' } });
});

test('map keys and values are validated; Kong reports the first bad entry without naming it', () => {
  const fields: FieldEntry[] = [{ headers: { type: 'map', keys: { type: 'string', match: '^[%w-]+$' }, values: { type: 'string' } } }];
  assert.deepEqual(acceptedConfig(fields, { headers: { 'X-Id': 'a' } }), { headers: { 'X-Id': 'a' } });
  assert.equal(configErrors(fields, { headers: { 'X-Id': 1 } }).headers, 'expected a string');
  assert.equal(configErrors(fields, { headers: { 'bad key': 'a' } }).headers, 'invalid value: bad key');
  assert.equal(configErrors(fields, { headers: { '': 'a' } }).headers, 'length must be at least 1');
});

test('match uses Lua patterns, not regular expressions', () => {
  const fields: FieldEntry[] = [{ version: { type: 'string', match: '^v%d+%.%d+$' } }];
  assert.deepEqual(acceptedConfig(fields, { version: 'v1.20' }), { version: 'v1.20' });
  assert.equal(configErrors(fields, { version: 'v1x2' }).version, 'invalid value: v1x2');
  const lazy: FieldEntry[] = [{ path: { type: 'string', match: '^/.-/$' } }];
  assert.deepEqual(acceptedConfig(lazy, { path: '/a/b/' }), { path: '/a/b/' });
  assert.equal(configErrors(lazy, { path: '/a' }).path, 'invalid value: /a');
});

test('match_none and match_any use their own err messages', () => {
  const fields: FieldEntry[] = [
    { name: { type: 'string', match_none: [{ pattern: '^_', err: 'must not start with an underscore' }] } },
    { url: { type: 'string', match_any: { patterns: ['^https://', '^http://localhost'], err: 'must be https' } } },
  ];
  assert.deepEqual(configErrors(fields, { name: '_x', url: 'http://example.com' }), {
    name: 'must not start with an underscore',
    url: 'must be https',
  });
});

test('other validators: starts_with, not_one_of, uuid, len_eq, contains', () => {
  const fields: FieldEntry[] = [
    { prefix: { type: 'string', starts_with: 'kong_' } },
    { claim: { type: 'string', not_one_of: ['exp', 'iat'] } },
    { id: { type: 'string', uuid: true } },
    { pin: { type: 'string', len_eq: 4 } },
    { protocols: { type: 'array', elements: { type: 'string' }, contains: 'https' } },
  ];
  const errors = configErrors(fields, { prefix: 'x_', claim: 'exp', id: 'nope', pin: '123', protocols: ['http'] });
  assert.deepEqual(errors, {
    prefix: 'should start with: kong_',
    claim: 'must not be one of: exp, iat',
    id: 'expected a valid UUID',
    pin: 'length must be 4',
    protocols: 'expected to contain: https',
  });
});

test('a field err attribute replaces validator messages but not type errors', () => {
  const fields: FieldEntry[] = [{ ttl: { type: 'integer', between: [1, 10], err: 'ttl out of range' } }];
  assert.equal(configErrors(fields, { ttl: 11 }).ttl, 'ttl out of range');
  assert.equal(configErrors(fields, { ttl: 'x' }).ttl, 'expected an integer');
});

test('a referenceable string holding a vault reference skips its validators', () => {
  const fields: FieldEntry[] = [{ secret: { type: 'string', referenceable: true, len_min: 32 } }];
  assert.deepEqual(acceptedConfig(fields, { secret: '{vault://env/jwt-secret}' }), { secret: '{vault://env/jwt-secret}' });
  assert.equal(configErrors(fields, { secret: 'short' }).secret, 'length must be at least 32');
});

test('Kong never validates a key named updated_at, and drops it if unknown', () => {
  assert.deepEqual(acceptedConfig(TOKEN_FIELDS, { issuer: 'kong', updated_at: 'garbage' }), {
    issuer: 'kong',
    ttl_seconds: 300,
    scopes: [],
    debug: false,
  });
});

test('a JSON array given for a record is a Lua table with keys 1..n', () => {
  assert.deepEqual(configErrors([{ r: { type: 'record', fields: [{ a: { type: 'string' } }] } }], { r: ['x'] }), {
    r: { 1: 'unknown field' },
  });
});

test('the input config is not modified', () => {
  const input = { issuer: 'kong', scopes: ['a', 'a'] };
  acceptedConfig(TOKEN_FIELDS, input);
  assert.deepEqual(input, { issuer: 'kong', scopes: ['a', 'a'] });
});

test('a plugin Kong would refuse cannot validate configs', () => {
  assert.throws(() => validatePluginConfig(pluginWith([{ a: { type: 'array' } }]), {}), /must declare 'elements'/);
});

test('schema features the harness does not model fail loudly', () => {
  const fields: FieldEntry[] = [
    { r: { type: 'record', fields: [{ a: { type: 'string' } }], entity_checks: [{ at_least_one_of: ['a'] }] } },
  ];
  assert.deepEqual(validatePluginInfo(pluginWith(fields)), []);
  assert.throws(() => validatePluginConfig(pluginWith(fields), {}), UnsupportedByHarness);
});
