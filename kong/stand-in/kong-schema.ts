/**
 * Kong's schema engine, re-implemented for the test harness: checks a plugin server's
 * `query_cmd` output the way Kong does when it loads an external plugin, and validates a
 * plugin instance's `config` the way the Admin API / kong.yml loading does.
 *
 * Behaviour follows Kong 3.10 (kong/db/schema/init.lua, metaschema.lua, entity.lua,
 * plugin_loader.lua, kong/db/dao/plugins.lua, kong/runloop/plugin_servers/*.lua).
 * Where Kong would raise a Lua error (a crash, not a validation message) this module throws
 * LuaRuntimeError; schema features the harness does not model throw UnsupportedByHarness,
 * so a test can never pass by silently skipping a check.
 */
import { randomBytes, randomUUID } from 'node:crypto';

// ---------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------

export interface MatchRule {
  pattern: string;
  err?: string;
}

/** A Kong field definition, as a plugin server sends it (a Lua schema table in JSON form). */
export interface FieldDef {
  type: string;
  required?: boolean;
  nilable?: boolean;
  default?: unknown;
  abstract?: boolean;
  auto?: boolean;
  referenceable?: boolean;
  err?: string;
  elements?: FieldDef;
  keys?: FieldDef;
  values?: FieldDef;
  fields?: FieldEntry[];
  between?: readonly number[];
  eq?: unknown;
  ne?: unknown;
  gt?: number;
  len_eq?: number;
  len_min?: number;
  len_max?: number;
  match?: string;
  not_match?: string;
  match_all?: readonly MatchRule[];
  match_none?: readonly MatchRule[];
  match_any?: { patterns: readonly string[]; err?: string };
  starts_with?: string;
  one_of?: readonly unknown[];
  not_one_of?: readonly unknown[];
  contains?: unknown;
  is_regex?: boolean;
  timestamp?: boolean;
  uuid?: boolean;
  mutually_exclusive_subsets?: readonly (readonly string[])[];
  [attribute: string]: unknown;
}

/** One entry of a `fields` array: `{ field_name: FieldDef }`. */
export type FieldEntry = Record<string, FieldDef>;

/** One plugin's info, as printed by a plugin server for Kong's `pluginserver_*_query_cmd`. */
export interface PluginInfo {
  Name: string;
  Version: string;
  Priority: number;
  Phases: string[];
  Schema: { name: string; fields: FieldEntry[]; entity_checks?: EntityCheck[] };
}

/** The one entity check our plugins declare (init.lua `conditional`), on `config.<field>` paths. */
export interface EntityCheck {
  conditional?: { if_field: string; if_match: Record<string, unknown>; then_field: string; then_match: Record<string, unknown> };
}

/** Kong's error tree: messages keyed by field name; arrays of element errors with null holes. */
export type ErrorTree = string | ErrorList | ErrorRecord;
export type ErrorList = Array<ErrorTree | null>;
export interface ErrorRecord {
  [field: string]: ErrorTree;
}

export type ConfigValidation = { ok: true; config: Record<string, unknown> } | { ok: false; errors: Record<string, unknown> };

/** Kong would fail with a Lua runtime error here (HTTP 500 / failed start), not a validation message. */
export class LuaRuntimeError extends Error {
  override name = 'LuaRuntimeError';
}

/** The schema uses a Kong feature this harness does not model. */
export class UnsupportedByHarness extends Error {
  override name = 'UnsupportedByHarness';
}

type Context = 'insert' | 'select';

// ---------------------------------------------------------------------------------------
// Messages (kong/db/schema/init.lua: validation_errors; kong/db/schema/metaschema.lua: meta_errors)
// ---------------------------------------------------------------------------------------

const MSG = {
  ARRAY: 'expected an array',
  SET: 'expected a set',
  MAP: 'expected a map',
  RECORD: 'expected a record',
  STRING: 'expected a string',
  NUMBER: 'expected a number',
  BOOLEAN: 'expected a boolean',
  INTEGER: 'expected an integer',
  FUNCTION: 'expected a function',
  REQUIRED: 'required field missing',
  UNKNOWN: 'unknown field',
  SCHEMA_CANNOT_VALIDATE: 'error in schema prevents from validating this field',
  SUBSCHEMA_ABSTRACT_FIELD: 'error in schema definition: abstract field was not specialized',
  REQUIRED_FOR_ENTITY_CHECK: 'field required for entity check',
} as const;

const META_MSG = {
  attribute: (type: string, attr: string) => `field of type '${type}' cannot have attribute '${attr}'`,
  required: (type: string, attr: string) => `field of type '${type}' must declare '${attr}'`,
  table: (attr: string) => `'${attr}' must be a table`,
  TYPE: 'missing type declaration',
  FIELD_EMPTY: 'field entry table is empty',
  JSON_PARENT_KEY: 'value must be a field name of the parent schema',
  JSON_PARENT_KEY_TYPE: 'value must be a string field of the parent schema',
} as const;

// ---------------------------------------------------------------------------------------
// Lua value semantics
// ---------------------------------------------------------------------------------------

/** Any JSON object or array: both decode to a Lua table, and Kong's type checks only ask "is it a table". */
function isLuaTable(value: unknown): value is Record<string, unknown> | unknown[] {
  return typeof value === 'object' && value !== null;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return isLuaTable(value) && !Array.isArray(value);
}

/** init.lua is_sequence: a JSON array, or an empty object (an empty Lua table is both). */
function isSequence(value: unknown): value is unknown[] | Record<string, never> {
  return Array.isArray(value) || (isPlainObject(value) && Object.keys(value).length === 0);
}

/** Lua `pairs`: arrays have integer keys starting at 1. */
function luaPairs(table: Record<string, unknown> | unknown[]): Array<[string | number, unknown]> {
  if (Array.isArray(table)) return table.map((value, index): [number, unknown] => [index + 1, value]);
  return Object.entries(table).filter(([, value]) => value !== undefined);
}

/** Lua `#` for the values Kong measures: strings count bytes, tables count their sequence part. */
function luaLength(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8');
  if (Array.isArray(value)) return value.length;
  if (isPlainObject(value)) return 0;
  throw new LuaRuntimeError(`attempt to get length of a ${luaType(value)} value`);
}

function luaType(value: unknown): string {
  if (value === null) return 'userdata';
  if (value === undefined) return 'nil';
  if (isLuaTable(value)) return 'table';
  return typeof value;
}

/** LuaJIT's tostring for numbers is "%.14g". */
function luaNumberToString(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  if (n === 0) return Object.is(n, -0) ? '-0' : '0';
  const [mantissa = '', exponentText = '0'] = n.toExponential(13).split('e');
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 14) {
    const digits = String(Math.abs(exponent)).padStart(2, '0');
    return `${stripTrailingZeros(mantissa)}e${exponent < 0 ? '-' : '+'}${digits}`;
  }
  return stripTrailingZeros(n.toFixed(13 - exponent));
}

function stripTrailingZeros(decimal: string): string {
  return decimal.includes('.') ? decimal.replace(/0+$/, '').replace(/\.$/, '') : decimal;
}

function luaToString(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return luaNumberToString(value);
  if (typeof value === 'boolean') return String(value);
  if (value === null) return 'userdata: NULL';
  if (value === undefined) return 'nil';
  return 'table: 0x00000000';
}

/** string.format("%d", n): LuaJIT truncates non-integers. */
function luaFormatInteger(n: unknown): string {
  if (typeof n !== 'number') throw new LuaRuntimeError(`bad argument to 'format' (number expected, got ${luaType(n)})`);
  return Number.isFinite(n) ? BigInt(Math.trunc(n)).toString() : luaNumberToString(n);
}

/** table.concat only accepts strings and numbers. */
function luaConcat(items: readonly unknown[], separator: string): string {
  return items
    .map((item) => {
      if (typeof item === 'string' || typeof item === 'number') return luaToString(item);
      throw new LuaRuntimeError(`invalid value (of type ${luaType(item)}) in table for 'concat'`);
    })
    .join(separator);
}

/** Lua `==`: tables compare by identity, so two decoded JSON objects are never equal. */
function luaEquals(a: unknown, b: unknown): boolean {
  return a === b;
}

/** Lua `<`/`>` only compare number with number or string with string. */
function luaLessThan(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a < b;
  if (typeof a === 'string' && typeof b === 'string') return Buffer.compare(Buffer.from(a), Buffer.from(b)) < 0;
  throw new LuaRuntimeError(`attempt to compare ${luaType(a)} with ${luaType(b)}`);
}

function deepCopy<T>(value: T): T {
  return value === undefined ? value : structuredClone(value);
}

/** kong/pdk/vault.lua is_reference. */
function isVaultReference(value: unknown): boolean {
  return typeof value === 'string' && value.startsWith('{vault://') && value.endsWith('}');
}

// ---------------------------------------------------------------------------------------
// Lua patterns (used by match, not_match, match_all, match_none, match_any)
// ---------------------------------------------------------------------------------------

type CodeRange = readonly [number, number];

// C-locale character classes of lstrlib.c.
const LUA_CLASSES: Record<string, readonly CodeRange[]> = {
  a: [
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  c: [
    [0x00, 0x1f],
    [0x7f, 0x7f],
  ],
  d: [[0x30, 0x39]],
  g: [[0x21, 0x7e]],
  l: [[0x61, 0x7a]],
  p: [
    [0x21, 0x2f],
    [0x3a, 0x40],
    [0x5b, 0x60],
    [0x7b, 0x7e],
  ],
  s: [
    [0x09, 0x0d],
    [0x20, 0x20],
  ],
  u: [[0x41, 0x5a]],
  w: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  x: [
    [0x30, 0x39],
    [0x41, 0x46],
    [0x61, 0x66],
  ],
};

function complementRanges(ranges: readonly CodeRange[]): CodeRange[] {
  const result: CodeRange[] = [];
  let next = 0;
  for (const [lo, hi] of ranges) {
    if (lo > next) result.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= 0xffff) result.push([next, 0xffff]);
  return result;
}

function luaClassRanges(letter: string): readonly CodeRange[] | undefined {
  const base = LUA_CLASSES[letter.toLowerCase()];
  if (base === undefined) return undefined;
  return letter === letter.toLowerCase() ? base : complementRanges(base);
}

function escapeCodeUnit(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

function rangesToClassBody(ranges: readonly CodeRange[]): string {
  const unit = (code: number) => escapeCodeUnit(String.fromCharCode(code));
  return ranges.map(([lo, hi]) => (lo === hi ? unit(lo) : `${unit(lo)}-${unit(hi)}`)).join('');
}

function malformed(pattern: string, why: string): LuaRuntimeError {
  return new LuaRuntimeError(`malformed pattern (${why}): ${pattern}`);
}

/** Parses a Lua `[set]` starting at `start`; returns the JS class and the index after `]`. */
function translateLuaSet(pattern: string, start: number): [string, number] {
  let i = start + 1;
  let negated = false;
  if (pattern[i] === '^') {
    negated = true;
    i++;
  }
  let body = '';
  let first = true;
  for (;;) {
    const char = pattern[i];
    if (char === undefined) throw malformed(pattern, "missing ']'");
    if (char === ']' && !first) break;
    first = false;
    if (char === '%') {
      const escaped = pattern[i + 1];
      if (escaped === undefined) throw malformed(pattern, "missing ']'");
      const ranges = luaClassRanges(escaped);
      body += ranges ? rangesToClassBody(ranges) : escapeCodeUnit(escaped);
      i += 2;
      continue;
    }
    const rangeEnd = pattern[i + 2];
    if (pattern[i + 1] === '-' && rangeEnd !== undefined && rangeEnd !== ']') {
      // Lua silently matches nothing for a reversed range; JS would reject it.
      if (char.charCodeAt(0) <= rangeEnd.charCodeAt(0)) body += `${escapeCodeUnit(char)}-${escapeCodeUnit(rangeEnd)}`;
      i += 3;
      continue;
    }
    body += escapeCodeUnit(char);
    i++;
  }
  return [`[${negated ? '^' : ''}${body}]`, i + 1];
}

/** Translates one Lua "single character class"; returns the JS source and the index after it. */
function translateLuaSingle(pattern: string, i: number): [string, number] {
  const char = pattern[i] ?? '';
  if (char === '.') return ['[\\s\\S]', i + 1];
  if (char === '[') return translateLuaSet(pattern, i);
  if (char === '%') {
    const escaped = pattern[i + 1];
    if (escaped === undefined) throw malformed(pattern, "ends with '%'");
    const ranges = luaClassRanges(escaped);
    return [ranges ? `[${rangesToClassBody(ranges)}]` : escapeCodeUnit(escaped), i + 2];
  }
  return [escapeCodeUnit(char), i + 1];
}

const QUANTIFIERS: Record<string, string> = { '*': '*', '+': '+', '?': '?', '-': '*?' };

/** Lua patterns are not regexes; Kong's `match` validators use string.match. Byte-exact for ASCII. */
function luaPatternToRegExp(pattern: string): RegExp {
  let source = '';
  let i = 0;
  if (pattern.startsWith('^')) {
    source = '^';
    i = 1;
  }
  while (i < pattern.length) {
    const char = pattern[i] ?? '';
    const next = pattern[i + 1];
    if (char === '(' || char === ')') {
      source += char;
      i++;
    } else if (char === '$' && i === pattern.length - 1) {
      source += '$';
      i++;
    } else if (char === '%' && (next === 'b' || next === 'f')) {
      throw new UnsupportedByHarness(`Lua pattern item %${next} in ${JSON.stringify(pattern)}`);
    } else if (char === '%' && next !== undefined && /[0-9]/.test(next)) {
      source += `\\${next}`;
      i += 2;
    } else {
      const [item, end] = translateLuaSingle(pattern, i);
      const quantifier = QUANTIFIERS[pattern[end] ?? ''];
      source += item + (quantifier ?? '');
      i = quantifier === undefined ? end : end + 1;
    }
  }
  return new RegExp(source);
}

function luaMatches(value: unknown, pattern: unknown): boolean {
  if (typeof value !== 'string') throw new LuaRuntimeError(`attempt to index a ${luaType(value)} value`);
  if (typeof pattern !== 'string') throw new LuaRuntimeError(`bad argument #1 to 'match' (string expected, got ${luaType(pattern)})`);
  return luaPatternToRegExp(pattern).test(value);
}

// ---------------------------------------------------------------------------------------
// Validators (init.lua: Schema.validators, run in Schema.validators_order)
// ---------------------------------------------------------------------------------------

/** true = passed; string = failed with that message; false = failed, use the default message. */
type ValidatorOutcome = boolean | string;
type Validator = (value: unknown, arg: unknown, field: FieldDef) => ValidatorOutcome;

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function asList(arg: unknown, validator: string): readonly unknown[] {
  if (!Array.isArray(arg)) throw new LuaRuntimeError(`${validator}: attempt to index a ${luaType(arg)} value`);
  return arg;
}

function mapLength(value: unknown): number {
  if (Array.isArray(value)) return value.length * 2; // '#' sees the sequence, pairs() sees it again
  if (isPlainObject(value)) return Object.keys(value).length;
  return luaLength(value);
}

function lengthValidator(message: string, accepts: (length: number, limit: number) => boolean): Validator {
  return (value, limit, field) => {
    const length = field.type === 'map' ? mapLength(value) : luaLength(value);
    if (typeof limit !== 'number') throw new LuaRuntimeError(`attempt to compare number with ${luaType(limit)}`);
    return accepts(length, limit) || `${message} ${luaFormatInteger(limit)}`;
  };
}

function patternListValidator(failsWhenMatched: boolean): Validator {
  return (value, list) => {
    for (const rule of asList(list, 'match list')) {
      const pattern = isPlainObject(rule) ? rule['pattern'] : undefined;
      const err = isPlainObject(rule) && typeof rule['err'] === 'string' ? rule['err'] : undefined;
      if (luaMatches(value, pattern) === failsWhenMatched) return err ?? false;
    }
    return true;
  };
}

const VALIDATORS: Record<string, Validator> = {
  eq: (value, wanted) => luaEquals(value, wanted) || `value must be ${wanted === null ? 'null' : luaToString(wanted)}`,
  ne: (value, wanted) => !luaEquals(value, wanted) || `value must not be ${wanted === null ? 'null' : luaToString(value)}`,
  not_one_of: (value, options) => {
    const list = asList(options, 'not_one_of');
    return !list.some((option) => luaEquals(value, option)) || `must not be one of: ${luaConcat(list, ', ')}`;
  },
  one_of: (value, options) => {
    const list = asList(options, 'one_of');
    return list.some((option) => luaEquals(value, option)) || `expected one of: ${luaConcat(list, ', ')}`;
  },
  gt: (value, limit) => luaLessThan(limit, value) || `value must be greater than ${luaToString(limit)}`,
  timestamp: (value) => luaLessThan(0, value),
  uuid: (value) => typeof value === 'string' && value.length === 36 && UUID_PATTERN.test(value),
  // Kong compiles with PCRE (ngx.re.match); JS RegExp syntax is a close approximation.
  is_regex: (value) => {
    try {
      new RegExp(String(value));
      return true;
    } catch {
      return false;
    }
  },
  between: (value, limits) => {
    const [low, high] = asList(limits, 'between');
    const outside = luaLessThan(value, low) || luaLessThan(high, value);
    return !outside || `value should be between ${luaFormatInteger(low)} and ${luaFormatInteger(high)}`;
  },
  len_eq: lengthValidator('length must be', (length, n) => length === n),
  len_min: lengthValidator('length must be at least', (length, n) => length >= n),
  len_max: lengthValidator('length must be at most', (length, n) => length <= n),
  starts_with: (value, prefix) => {
    if (typeof value !== 'string' || typeof prefix !== 'string') throw new LuaRuntimeError('starts_with on a non-string');
    return value.startsWith(prefix) || `should start with: ${prefix}`;
  },
  not_match: (value, pattern) => !luaMatches(value, pattern),
  match_none: patternListValidator(true),
  match: (value, pattern) => luaMatches(value, pattern),
  match_all: patternListValidator(false),
  match_any: (value, arg) => {
    const patterns = isPlainObject(arg) ? asList(arg['patterns'], 'match_any') : asList(undefined, 'match_any');
    if (patterns.some((pattern) => luaMatches(value, pattern))) return true;
    return isPlainObject(arg) && typeof arg['err'] === 'string' ? arg['err'] : false;
  },
  contains: (value, wanted) => {
    if (!Array.isArray(value)) throw new LuaRuntimeError(`attempt to get length of a ${luaType(value)} value`);
    return value.some((item) => luaEquals(item, wanted)) || `expected to contain: ${luaToString(wanted)}`;
  },
  custom_validator: () => {
    throw new UnsupportedByHarness('custom_validator (a Lua function)');
  },
  mutually_exclusive_subsets: (value, subsets) => {
    const subsetOf = new Map<unknown, readonly unknown[]>();
    for (const subset of asList(subsets, 'mutually_exclusive_subsets')) {
      for (const member of asList(subset, 'mutually_exclusive_subsets')) subsetOf.set(member, subset as readonly unknown[]);
    }
    const used: Array<readonly unknown[]> = [];
    for (const item of asList(value, 'mutually_exclusive_subsets')) {
      const subset = subsetOf.get(item);
      if (subset && !used.includes(subset)) used.push(subset);
    }
    if (used.length <= 1) return true;
    const quoted = used.map((subset) => `(${subset.map((member) => `'${luaToString(member)}'`).join(', ')})`);
    return `these sets are mutually exclusive: ${quoted.join(', ')}`;
  },
};

const VALIDATORS_ORDER = [
  'eq',
  'ne',
  'not_one_of',
  'one_of',
  'gt',
  'timestamp',
  'uuid',
  'is_regex',
  'between',
  'len_eq',
  'len_min',
  'len_max',
  'starts_with',
  'not_match',
  'match_none',
  'match',
  'match_all',
  'match_any',
  'contains',
  'custom_validator',
  'mutually_exclusive_subsets',
] as const;

// Used when a validator fails without its own message (init.lua validate_field's fallback).
const VALIDATOR_FALLBACK_MESSAGES: Record<string, (value: unknown) => string> = {
  match: (value) => `invalid value: ${luaToString(value)}`,
  not_match: (value) => `invalid value: ${luaToString(value)}`,
  match_all: (value) => `invalid value: ${luaToString(value)}`,
  match_none: (value) => `invalid value: ${luaToString(value)}`,
  match_any: (value) => `invalid value: ${luaToString(value)}`,
  is_regex: (value) => `not a valid regex: ${luaToString(value)}`,
  timestamp: () => 'expected a valid timestamp',
  uuid: () => 'expected a valid UUID',
};

function runValidators(field: FieldDef, value: unknown): string | undefined {
  for (const name of VALIDATORS_ORDER) {
    // The implicit minimum length of strings (see validateTypedValue) is a default, not an attribute.
    const arg = name === 'len_min' ? effectiveLenMin(field) : field[name];
    if (arg === undefined) continue;
    const validator = VALIDATORS[name];
    if (validator === undefined) continue;
    const outcome = validator(value, arg, field);
    if (outcome === true) continue;
    const message = typeof outcome === 'string' ? outcome : fallbackMessage(name, value);
    return field.err ?? message;
  }
  return undefined;
}

function fallbackMessage(validator: string, value: unknown): string {
  const message = VALIDATOR_FALLBACK_MESSAGES[validator];
  return message ? message(value) : `failed validating: ${luaToString(value)}`;
}

/**
 * init.lua validate_field: "empty strings are not accepted by default" — a string field without
 * len_min behaves as len_min = 1 (Kong even writes it into the field definition).
 */
function effectiveLenMin(field: FieldDef): number | undefined {
  if (field.len_min !== undefined) return field.len_min;
  return field.type === 'string' ? 1 : undefined;
}

// ---------------------------------------------------------------------------------------
// Field validation (init.lua: Schema:validate_field, validate_fields, Schema:validate)
// ---------------------------------------------------------------------------------------

const SIMPLE_TYPE_MESSAGES: Record<string, { jsType: string; message: string }> = {
  number: { jsType: 'number', message: MSG.NUMBER },
  boolean: { jsType: 'boolean', message: MSG.BOOLEAN },
  function: { jsType: 'function', message: MSG.FUNCTION },
};

/** Returns undefined when the value is valid, otherwise Kong's error (a message or a nested tree). */
function validateField(field: FieldDef, value: unknown): ErrorTree | undefined {
  if (value === null) return validateNull(field);
  if (field.eq === null) return field.err ?? 'value must be null';
  if (field.abstract) return MSG.SUBSCHEMA_ABSTRACT_FIELD;
  const typeResult = validateTypedValue(field, value);
  if (typeResult === 'skip-validators') return undefined;
  if (typeResult !== undefined) return typeResult;
  return runValidators(field, value);
}

function validateNull(field: FieldDef): string | undefined {
  if ('ne' in field && field.ne === null) return field.err ?? 'value must not be null';
  if (field.eq !== undefined && field.eq !== null) return `value must be ${luaToString(field.eq)}`;
  if (field.required) return MSG.REQUIRED;
  return undefined;
}

function validateTypedValue(field: FieldDef, value: unknown): ErrorTree | 'skip-validators' | undefined {
  switch (field.type) {
    case 'array':
      return isSequence(value) ? validateElements(field, value) : MSG.ARRAY;
    case 'set':
      return isSequence(value) ? validateElements(field, value) : MSG.SET;
    case 'map':
      return isLuaTable(value) ? validateMapEntries(field, value) : MSG.MAP;
    case 'record':
      return isLuaTable(value) ? validateNestedRecord(field, value) : MSG.RECORD;
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value) ? undefined : MSG.INTEGER;
    case 'string':
      if (typeof value !== 'string') return MSG.STRING;
      return field.referenceable && isVaultReference(value) ? 'skip-validators' : undefined;
    case 'foreign':
    case 'json':
      throw new UnsupportedByHarness(`fields of type '${field.type}'`);
    case 'any':
      return undefined;
    default: {
      const simple = SIMPLE_TYPE_MESSAGES[field.type];
      if (simple === undefined) return `invalid type: ${field.type}`;
      return typeof value === simple.jsType ? undefined : simple.message;
    }
  }
}

/** Element errors are keyed by position; Kong's JSON shows them as an array with null holes. */
function validateElements(field: FieldDef, value: unknown[] | Record<string, never>): ErrorList | undefined {
  const elements = requireSubfield(field, 'elements');
  const errors: ErrorList = [];
  let failed = false;
  (Array.isArray(value) ? value : []).forEach((element, index) => {
    const error = validateField({ ...elements, required: true }, element);
    errors[index] = error ?? null;
    if (error !== undefined) failed = true;
  });
  if (!failed) return undefined;
  while (errors.at(-1) === null) errors.pop();
  return errors;
}

/** A map reports only the first bad key or value, without saying which entry it was. */
function validateMapEntries(field: FieldDef, value: Record<string, unknown> | unknown[]): ErrorTree | undefined {
  const keys = requireSubfield(field, 'keys');
  const values = requireSubfield(field, 'values');
  for (const [key, entry] of luaPairs(value)) {
    const error = validateField({ ...keys, required: true }, key) ?? validateField({ ...values, required: true }, entry);
    if (error !== undefined) return error;
  }
  return undefined;
}

function validateNestedRecord(field: FieldDef, value: Record<string, unknown> | unknown[]): ErrorRecord | undefined {
  const processed = processAutoFields(field, value, 'insert');
  const errors = validateRecord(field, processed);
  return Object.keys(errors).length > 0 ? errors : undefined;
}

function requireSubfield(field: FieldDef, attribute: 'elements' | 'keys' | 'values'): FieldDef {
  const subfield = field[attribute];
  if (!isPlainObject(subfield)) throw new LuaRuntimeError(`attempt to index field '${attribute}' (a ${luaType(subfield)} value)`);
  return subfield;
}

function recordFields(record: FieldDef): Array<[string, FieldDef]> {
  if (!Array.isArray(record.fields)) throw new LuaRuntimeError("attempt to get length of field 'fields'");
  return record.fields.map((entry) => {
    const [name, field] = Object.entries(entry)[0] ?? [];
    if (name === undefined || !isPlainObject(field)) throw new LuaRuntimeError('malformed fields entry');
    return [name, field];
  });
}

function findField(record: FieldDef, name: string): FieldDef | undefined {
  return recordFields(record).find(([fieldName]) => fieldName === name)?.[1];
}

/** Schema:validate with full_check: every present key, then every required field. */
function validateRecord(record: FieldDef, input: Record<string, unknown>): ErrorRecord {
  rejectUnsupportedRecordFeatures(record);
  const errors: ErrorRecord = {};
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue;
    const error = validateRecordEntry(record, input, key, value);
    if (error !== undefined) errors[key] = error;
  }
  for (const [name, field] of recordFields(record)) {
    if (field.required && (input[name] === null || input[name] === undefined)) errors[name] = MSG.REQUIRED;
  }
  return errors;
}

function validateRecordEntry(record: FieldDef, input: Record<string, unknown>, key: string, value: unknown): ErrorTree | undefined {
  const field = findField(record, key);
  if (field?.type === 'self') return validateAgainstOwnDefinition(input, value);
  // init.lua Schema.new: `unvalidated_fields` always skips a key named updated_at, known or not.
  if (key === 'updated_at') return undefined;
  if (field === undefined) return MSG.UNKNOWN;
  return validateField(field, value);
}

/** The metaschema's `default = { type = "self" }`: the value must be valid for the field it sits in. */
function validateAgainstOwnDefinition(definition: Record<string, unknown>, value: unknown): ErrorTree | undefined {
  try {
    return validateField(withoutNullAttributes(definition), value);
  } catch (error) {
    // Kong runs this under pcall, so a definition that crashes the validator becomes a message.
    if (error instanceof UnsupportedByHarness) return undefined;
    return MSG.SCHEMA_CANNOT_VALIDATE;
  }
}

function rejectUnsupportedRecordFeatures(record: FieldDef): void {
  for (const feature of ['entity_checks', 'shorthand_fields', 'transformations'] as const) {
    if (record[feature] !== undefined && record[feature] !== null) throw new UnsupportedByHarness(`records with ${feature}`);
  }
}

// ---------------------------------------------------------------------------------------
// Defaults and normalisation (init.lua: process_auto_fields, adjust_field_for_context,
// handle_missing_field, make_array, make_set)
// ---------------------------------------------------------------------------------------

function hasDefault(field: FieldDef): boolean {
  return Object.hasOwn(field, 'default') && field.default !== undefined;
}

/** handle_missing_field: the value Kong puts in the slot of an absent field. */
function valueForMissingField(field: FieldDef): unknown {
  if (hasDefault(field)) {
    const copy = deepCopy(field.default);
    // An empty default table for an array or set is tagged as a JSON array (cjson.array_mt).
    const isCollection = field.type === 'array' || field.type === 'set';
    return isCollection && isPlainObject(copy) && Object.keys(copy).length === 0 ? [] : copy;
  }
  if (field.nilable) return undefined;
  if (field.required !== true) return null;
  if (field.abstract) return undefined;
  if (field.type === 'record') return processAutoFields(field, {}, 'insert');
  return undefined; // required and no default: validation reports it
}

function makeArray(value: Record<string, unknown> | unknown[]): Record<string, unknown> | unknown[] {
  return isSequence(value) && !Array.isArray(value) ? [] : value;
}

/** make_set: duplicates go (Lua table-key equality: by value for scalars, by identity for tables). */
function makeSet(value: Record<string, unknown> | unknown[]): Record<string, unknown> | unknown[] {
  if (!isSequence(value)) return value;
  if (!Array.isArray(value)) return [];
  const seen = new Set<unknown>();
  return value.filter((element) => {
    if (seen.has(element)) return false;
    seen.add(element);
    return true;
  });
}

function shouldRecurseIntoRecord(field: FieldDef, value: unknown): boolean {
  return value !== null && (value !== undefined || field.required === true);
}

function adjustFieldForContext(field: FieldDef, value: unknown, context: Context): unknown {
  if (context === 'select' && value === null && field.required === true) return valueForMissingField(field);
  if (field.abstract) return value;
  if (field.type === 'record') {
    if (shouldRecurseIntoRecord(field, value)) {
      const record = value ?? valueForMissingField(field);
      if (isLuaTable(record)) return processAutoFields(field, record, context);
      value = record;
    }
  } else if (isLuaTable(value)) {
    value = adjustCollection(field, value, context);
  }
  return value === undefined ? valueForMissingField(field) : value;
}

function adjustCollection(field: FieldDef, value: Record<string, unknown> | unknown[], context: Context): unknown {
  let collection = value;
  let subfield: FieldDef | undefined;
  if (field.type === 'array') {
    collection = makeArray(value);
    subfield = field.elements;
  } else if (field.type === 'set') {
    collection = makeSet(value);
    subfield = field.elements;
  } else if (field.type === 'map') {
    subfield = field.values;
  }
  if (!isPlainObject(subfield)) return collection;
  const sub = subfield;
  if (Array.isArray(collection)) return collection.map((element) => adjustFieldForContext(sub, element, context));
  return Object.fromEntries(Object.entries(collection).map(([key, entry]) => [key, adjustFieldForContext(sub, entry, context)]));
}

/** A JSON array given for a record is a Lua table with keys 1..n. */
function asRecordInput(value: Record<string, unknown> | unknown[]): Record<string, unknown> {
  if (!Array.isArray(value)) return value;
  return Object.fromEntries(value.map((element, index) => [String(index + 1), element]));
}

function autoValue(field: FieldDef, value: unknown): unknown {
  if (!field.auto || value !== undefined) return value;
  if (field.uuid) return randomUUID();
  if (field.type === 'string') return randomBytes(24).toString('base64url');
  return value;
}

/**
 * process_auto_fields. "insert" (Admin API / kong.yml) fills defaults and keeps explicit nulls;
 * "select" (what a running Kong hands to plugins) also fills defaults, then drops nulls,
 * empty strings and keys the schema does not know.
 */
function processAutoFields(record: FieldDef, data: Record<string, unknown> | unknown[], context: Context): Record<string, unknown> {
  rejectUnsupportedRecordFeatures(record);
  const input = asRecordInput(data);
  const output: Record<string, unknown> = {};
  for (const [name, field] of recordFields(record)) {
    const raw = context === 'insert' ? autoValue(field, input[name]) : input[name];
    const value = adjustFieldForContext(field, raw, context);
    if (value === undefined) continue;
    if (context === 'select' && isDroppedOnSelect(field, value)) continue;
    output[name] = value;
  }
  if (context === 'insert') {
    for (const [key, value] of Object.entries(input)) {
      if (!(key in output) && value !== undefined && findField(record, key) === undefined) output[key] = deepCopy(value);
    }
  }
  return output;
}

function isDroppedOnSelect(field: FieldDef, value: unknown): boolean {
  if (value === null) return true;
  return field.type === 'string' && (field.len_min ?? 1) > 0 && value === '';
}

// ---------------------------------------------------------------------------------------
// validatePluginConfig
// ---------------------------------------------------------------------------------------

/**
 * Validates a plugin instance's `config` as Kong does on POST /plugins or when loading kong.yml,
 * and returns the config as a running Kong serialises it for the plugin server
 * (defaults filled, unset optional fields absent).
 */
/** The errors Kong answers a config it refuses with, field by field; throws when Kong would accept it. */
export function configErrors(info: unknown, config: Record<string, unknown>): Record<string, unknown> {
  const checked = validatePluginConfig(info, config);
  if (checked.ok) throw new Error(`Kong would accept ${JSON.stringify(config)}`);
  return checked.errors as Record<string, unknown>;
}

export function validatePluginConfig(info: unknown, config: Record<string, unknown>): ConfigValidation {
  if (!isLuaTable(config)) throw new TypeError('config must be an object');
  const record = configRecordOf(info);
  // The plugins entity's config field goes through process_auto_fields, then validate_field
  // (which processes the record again before validating it).
  const inserted = processAutoFields(record, config, 'insert');
  const processed = processAutoFields(record, inserted, 'insert');
  const errors: Record<string, unknown> = validateRecord(record, processed);
  Object.assign(errors, entityCheckErrors(info as PluginInfo, record, processed));
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return { ok: true, config: processAutoFields(record, inserted, 'select') };
}

/**
 * init.lua's `conditional` entity checks (run even when a field is invalid): when `if_field` matches, a
 * `then_field` that does not match gets Kong's message, and the config `@entity` names the if_field. Each
 * match table is validated as a field definition inheriting the field's own (Kong sets it as __index).
 * Errors are keyed as the config record's (`audience`), with `@entity` beside them.
 */
function entityCheckErrors(info: PluginInfo, record: FieldDef, config: Record<string, unknown>): Record<string, unknown> {
  const errors: Record<string, unknown> = {};
  const entity: string[] = [];
  for (const check of info.Schema.entity_checks ?? []) {
    const conditional = check.conditional;
    if (!conditional) throw new UnsupportedByHarness(`entity checks other than conditional: ${Object.keys(check).join(', ')}`);
    const name = (path: string) => {
      if (!path.startsWith('config.')) throw new UnsupportedByHarness(`entity check field ${path}`);
      return path.slice('config.'.length);
    };
    const [ifName, thenName] = [name(conditional.if_field), name(conditional.then_field)];
    const definition = (field: string) => recordFields(record).find(([candidate]) => candidate === field)?.[1] ?? { type: 'any' };
    const ifValue = config[ifName] ?? null;
    if (validateField({ ...definition(ifName), ...conditional.if_match } as FieldDef, ifValue) !== undefined) continue;
    const thenValue = config[thenName] ?? null;
    const problem =
      conditional.then_match.required === true && thenValue === null
        ? MSG.REQUIRED
        : validateField({ ...definition(thenName), ...conditional.then_match } as FieldDef, thenValue);
    if (problem === undefined) continue;
    errors[thenName] = problem;
    entity.push(`failed conditional validation given value of field '${conditional.if_field}'`);
  }
  if (entity.length > 0) errors['@entity'] = entity;
  return errors;
}

function configRecordOf(info: unknown): FieldDef {
  const problems = validatePluginInfo(info);
  if (problems.length > 0) throw new Error(`Kong would refuse this plugin: ${problems.join('; ')}`);
  const { Schema, Name } = info as PluginInfo;
  const entry = Schema.fields.find((candidate) => Object.hasOwn(candidate, 'config'));
  if (entry?.['config'] === undefined) {
    throw new Error(`plugin '${Name}' declares no config record; Kong rejects any config with: ${MSG.SUBSCHEMA_ABSTRACT_FIELD}`);
  }
  const record = withoutNullAttributes(entry['config']);
  makeRecordsRequired(record);
  return record;
}

/**
 * entity.lua make_records_required (applied by Entity.new_subschema when the plugin loads):
 * records reachable through `fields` become required unless they say otherwise, so an absent
 * nested record is expanded with its defaults instead of being left null.
 */
function makeRecordsRequired(record: FieldDef): void {
  if (record.required === undefined) record.required = true;
  for (const [, field] of recordFields(record)) {
    if (field.type === 'record') makeRecordsRequired(field);
  }
}

// Attributes whose argument may legitimately be JSON null (Kong's ngx.null).
const NULL_MEANINGFUL_ATTRIBUTES = new Set(['default', 'eq', 'ne', 'contains']);

/** Deep copy of a definition without null-valued attributes (Kong's handling of those is crash-prone). */
function withoutNullAttributes(definition: Record<string, unknown>): FieldDef {
  const copy: Record<string, unknown> = {};
  for (const [attribute, value] of Object.entries(definition)) {
    if (value === undefined || (value === null && !NULL_MEANINGFUL_ATTRIBUTES.has(attribute))) continue;
    copy[attribute] = normalizeAttribute(attribute, value);
  }
  return copy as FieldDef;
}

function normalizeAttribute(attribute: string, value: unknown): unknown {
  if ((attribute === 'elements' || attribute === 'keys' || attribute === 'values') && isPlainObject(value)) {
    return withoutNullAttributes(value);
  }
  if (attribute === 'fields' && Array.isArray(value)) {
    return value.map((entry: unknown) =>
      isPlainObject(entry)
        ? Object.fromEntries(Object.entries(entry).map(([name, def]) => [name, isPlainObject(def) ? withoutNullAttributes(def) : def]))
        : entry,
    );
  }
  return deepCopy(value);
}

// ---------------------------------------------------------------------------------------
// The metaschema (kong/db/schema/metaschema.lua), in the same data form as a plugin schema
// ---------------------------------------------------------------------------------------

const VALID_TYPES = ['array', 'set', 'string', 'number', 'boolean', 'integer', 'foreign', 'map', 'record', 'function', 'json'];

const MATCH_LIST: FieldDef = {
  type: 'array',
  elements: { type: 'record', fields: [{ pattern: { type: 'string', required: true } }, { err: { type: 'string' } }] },
};

const MATCH_ANY: FieldDef = {
  type: 'record',
  fields: [{ patterns: { type: 'array', elements: { type: 'string' }, required: true } }, { err: { type: 'string' } }],
};

const VALIDATOR_ATTRIBUTES: FieldEntry[] = [
  { between: { type: 'array', elements: { type: 'number' }, len_eq: 2 } },
  { eq: { type: 'any' } },
  { ne: { type: 'any' } },
  { gt: { type: 'number' } },
  { len_eq: { type: 'integer' } },
  { len_min: { type: 'integer' } },
  { len_max: { type: 'integer' } },
  { match: { type: 'string' } },
  { not_match: { type: 'string' } },
  { match_all: MATCH_LIST },
  { match_none: MATCH_LIST },
  { match_any: MATCH_ANY },
  { starts_with: { type: 'string' } },
  { one_of: { type: 'array', elements: { type: 'any' } } },
  { not_one_of: { type: 'array', elements: { type: 'any' } } },
  { contains: { type: 'any' } },
  { is_regex: { type: 'boolean' } },
  { timestamp: { type: 'boolean' } },
  { uuid: { type: 'boolean' } },
  { custom_validator: { type: 'function' } },
  { mutually_exclusive_subsets: { type: 'array', elements: { type: 'array', elements: { type: 'string' } } } },
];

const JSON_SCHEMA_ATTRIBUTE: FieldDef = {
  type: 'record',
  fields: [
    { namespace: { type: 'string', one_of: ['proxy-wasm-filters'] } },
    { parent_subschema_key: { type: 'string' } },
    { optional: { type: 'boolean' } },
    { inline: { type: 'any' } },
    { default: { type: 'any' } },
  ],
};

const DEPRECATION_ATTRIBUTE: FieldDef = {
  type: 'record',
  fields: [
    { message: { type: 'string', required: true } },
    { removal_in_version: { type: 'string', required: true } },
    { old_default: { type: 'any', required: false } },
    {
      replaced_with: {
        type: 'array',
        required: false,
        elements: {
          type: 'record',
          required: false,
          fields: [
            { path: { type: 'array', len_min: 1, required: true, elements: { type: 'string' } } },
            { reverse_mapping_function: { type: 'function', required: false } },
          ],
        },
      },
    },
  ],
};

const OTHER_ATTRIBUTES: FieldEntry[] = [
  { type: { type: 'string', one_of: VALID_TYPES, required: true } },
  { required: { type: 'boolean' } },
  { reference: { type: 'string' } },
  { description: { type: 'string', len_min: 10, len_max: 500 } },
  { examples: { type: 'array', elements: { type: 'any' } } },
  { auto: { type: 'boolean' } },
  { unique: { type: 'boolean' } },
  { unique_across_ws: { type: 'boolean' } },
  { on_delete: { type: 'string', one_of: ['restrict', 'cascade', 'null'] } },
  { default: { type: 'self' } },
  { abstract: { type: 'boolean' } },
  { generate_admin_api: { type: 'boolean' } },
  { immutable: { type: 'boolean' } },
  { err: { type: 'string' } },
  { encrypted: { type: 'boolean' } },
  { referenceable: { type: 'boolean' } },
  { json_schema: JSON_SCHEMA_ATTRIBUTE },
  { transient: { type: 'boolean' } },
  { deprecation: DEPRECATION_ATTRIBUTE },
];

function asNilable(entry: FieldEntry): FieldEntry {
  return Object.fromEntries(Object.entries(entry).map(([name, def]) => [name, { ...def, nilable: !def.required }]));
}

/**
 * The record a field definition is validated against. elements/keys/values/fields are walked
 * by checkFieldDefinition itself (to report problems with readable paths), so here they only
 * need to exist; like in Kong they are added after the nilable pass. entity_checks are walked by
 * checkEntityChecks; shorthand_fields are accepted as Kong does, but not inspected in depth by this harness.
 */
const FIELD_DEFINITION_SCHEMA: FieldDef = {
  type: 'record',
  fields: [
    ...[...OTHER_ATTRIBUTES, ...VALIDATOR_ATTRIBUTES].map(asNilable),
    { elements: { type: 'any' } },
    { keys: { type: 'any' } },
    { values: { type: 'any' } },
    { fields: { type: 'any' } },
    { entity_checks: { type: 'array', elements: { type: 'any' }, nilable: true } },
    { shorthand_fields: { type: 'array', elements: { type: 'any' }, nilable: true } },
  ],
};

// metaschema.lua conditional_validators: what an entity check's if_match / then_match / else_match may hold.
// Their elements/keys/values are walked by checkMatchSubfields.
const CONDITIONAL_VALIDATORS: FieldDef = {
  type: 'record',
  fields: [
    { required: { type: 'boolean' } },
    { elements: { type: 'any' } },
    { keys: { type: 'any' } },
    { values: { type: 'any' } },
    ...VALIDATOR_ATTRIBUTES.map(asNilable),
  ],
};

const STRING_LIST: FieldDef = { type: 'array', elements: { type: 'string' } };

// metaschema.lua entity_checkers: one entry of entity_checks, a record of the checkers' arguments.
const ENTITY_CHECK_SCHEMA: FieldDef = {
  type: 'record',
  fields: [
    { at_least_one_of: STRING_LIST },
    {
      conditional_at_least_one_of: {
        type: 'record',
        fields: [
          { if_field: { type: 'string' } },
          { if_match: CONDITIONAL_VALIDATORS },
          { then_at_least_one_of: STRING_LIST },
          { then_err: { type: 'string' } },
          { else_match: CONDITIONAL_VALIDATORS },
          { else_then_at_least_one_of: STRING_LIST },
          { else_then_err: { type: 'string' } },
        ],
      },
    },
    { only_one_of: STRING_LIST },
    { distinct: STRING_LIST },
    {
      conditional: {
        type: 'record',
        fields: [
          { if_field: { type: 'string' } },
          { if_match: CONDITIONAL_VALIDATORS },
          { then_field: { type: 'string' } },
          { then_match: CONDITIONAL_VALIDATORS },
          { then_err: { type: 'string' } },
        ],
      },
    },
    {
      custom_entity_check: {
        type: 'record',
        fields: [
          { field_sources: STRING_LIST },
          { fn: { type: 'function' } },
          { run_with_missing_fields: { type: 'boolean' } },
          { run_with_invalid_fields: { type: 'boolean' } },
        ],
      },
    },
    { mutually_required: STRING_LIST },
    { mutually_exclusive: STRING_LIST },
    { mutually_exclusive_sets: { type: 'record', fields: [{ set1: STRING_LIST }, { set2: STRING_LIST }] } },
  ],
};

// The metaschema's own entity check on each entry, `only_one_of = keys(Schema.entity_checkers)`. Kong lists
// the checkers in Lua's pairs() order, which differs between runs; here they are in init.lua's order.
const ONE_CHECKER_PER_ENTRY = `exactly one of these fields must be non-empty: ${recordFields(ENTITY_CHECK_SCHEMA)
  .map(([name]) => `'${name}'`)
  .join(', ')}`;

// metaschema.lua MetaSubSchema: the top-level table a plugin's schema must be.
const PLUGIN_SCHEMA_SCHEMA: FieldDef = {
  type: 'record',
  fields: [
    { name: { type: 'string', required: true } },
    { fields: { type: 'any' } },
    { entity_checks: { type: 'array', elements: { type: 'any' }, nilable: true } },
    { shorthand_fields: { type: 'array', elements: { type: 'any' }, nilable: true } },
    { transformations: { type: 'array', elements: { type: 'any' }, nilable: true } },
    { check: { type: 'function', nilable: true } },
  ],
};

// metaschema.lua required_attributes
const REQUIRED_ATTRIBUTES: Record<string, readonly string[]> = {
  array: ['elements'],
  set: ['elements'],
  map: ['keys', 'values'],
  record: ['fields'],
  json: ['json_schema'],
};

// metaschema.lua attribute_types: attributes only some types may carry.
const ATTRIBUTE_TYPES: Record<string, readonly string[]> = {
  between: ['integer', 'number'],
  len_eq: ['array', 'set', 'string', 'map'],
  match: ['string'],
  one_of: ['string', 'number', 'integer'],
  contains: ['array', 'set'],
  is_regex: ['string'],
  timestamp: ['number', 'integer'],
  uuid: ['string'],
  unique: ['string', 'number', 'integer', 'foreign'],
  unique_across_ws: ['string', 'number', 'integer', 'foreign'],
  abstract: ['string', 'number', 'integer', 'record', 'array', 'set', 'map'],
  json_schema: ['json'],
  transient: ['string', 'number', 'integer', 'array', 'set', 'boolean'],
};

// kong/db/schema/entities/plugins.lua: a plugin's schema may only specialise these fields
// (init.lua Schema.new_subschema, compatible_fields).
const PLUGINS_ENTITY_FIELDS: Record<string, { type: string; elements?: string }> = {
  id: { type: 'string' },
  name: { type: 'string' },
  instance_name: { type: 'string' },
  created_at: { type: 'integer' },
  updated_at: { type: 'integer' },
  route: { type: 'foreign' },
  service: { type: 'foreign' },
  consumer: { type: 'foreign' },
  config: { type: 'record' },
  protocols: { type: 'set', elements: 'string' },
  enabled: { type: 'boolean' },
  tags: { type: 'set', elements: 'string' },
};

/** The phases the kong-pdk plugin servers (JS, Python, Go) can declare. */
export const KNOWN_PHASES = ['certificate', 'rewrite', 'access', 'response', 'preread', 'log'] as const;

// ---------------------------------------------------------------------------------------
// validatePluginInfo
// ---------------------------------------------------------------------------------------

/** Problems Kong would have loading this plugin (empty = Kong loads it). */
export function validatePluginInfo(info: unknown): string[] {
  if (!isPlainObject(info)) return ['plugin info: expected an object'];
  const name = info['Name'];
  return [
    ...checkPluginName(name),
    ...checkPriority(name, info['Priority']),
    ...checkVersion(name, info['Version']),
    ...checkPhases(info['Phases']),
    ...checkPluginSchema(name, info['Schema']),
  ];
}

function checkPluginName(name: unknown): string[] {
  // process.lua keys the plugin by info.Name; kong.conf's `plugins` list must name it.
  if (typeof name !== 'string') return [`Name: ${MSG.STRING}`];
  return name === '' ? ['Name: length must be at least 1'] : [];
}

function luaQuoted(value: unknown): string {
  return JSON.stringify(luaToString(value));
}

/** kong/db/dao/plugins.lua valid_priority. */
function checkPriority(name: unknown, priority: unknown): string[] {
  if (typeof priority === 'number' && Number.isInteger(priority)) return [];
  return [
    `Priority: Plugin ${luaQuoted(name)} cannot be loaded because its PRIORITY field is not a valid integer number, got: ${luaQuoted(priority)}.`,
  ];
}

/** kong/db/dao/plugins.lua valid_version, using the `version` rock's non-strict parser. */
function checkVersion(name: unknown, version: unknown): string[] {
  if (typeof version === 'string' && parsesAsKongVersion(version)) return [];
  return [
    `Version: Plugin ${luaQuoted(name)} cannot be loaded because its VERSION field does not follow the "x.y.z" format, got: ${luaQuoted(version)}.`,
  ];
}

/** version.lua: takes the first run of digits and dots, splits on dots; at most three numbers. */
function parsesAsKongVersion(version: string): boolean {
  const digitsAndDots = /[0-9.]+/.exec(version)?.[0];
  if (digitsAndDots === undefined) return false; // Kong itself crashes on this one
  const segments = digitsAndDots.split('.');
  if (segments[0] === '') segments.shift(); // a leading dot yields no element
  if (segments.at(-1) === '') segments.pop(); // nor does a trailing one
  return segments.length <= 3 && segments.every((segment) => segment !== '');
}

function checkPhases(phases: unknown): string[] {
  // plugin.lua build_phases iterates Phases with ipairs: anything but a list crashes Kong.
  if (!Array.isArray(phases)) return [`Phases: ${MSG.ARRAY}`];
  return phases.flatMap((phase: unknown, index) =>
    typeof phase === 'string' && (KNOWN_PHASES as readonly string[]).includes(phase)
      ? []
      : [`Phases[${index}]: unknown phase ${luaQuoted(phase)} (expected one of: ${KNOWN_PHASES.join(', ')})`],
  );
}

function checkPluginSchema(pluginName: unknown, schema: unknown): string[] {
  if (!isPlainObject(schema)) return [`Schema: ${MSG.RECORD}`];
  const problems = flattenErrors(validateRecord(PLUGIN_SCHEMA_SCHEMA, schema), 'Schema');
  problems.push(...checkEntityChecks('Schema.entity_checks', schema['entity_checks']));
  if (typeof schema['name'] === 'string' && typeof pluginName === 'string' && schema['name'] !== pluginName) {
    // Kong does not compare them, but Schema.new caches schemas by name: a plugin schema named
    // like a core entity ("routes", ...) would replace that entity's schema.
    problems.push(`Schema.name: must equal Name ${luaQuoted(pluginName)}, got ${luaQuoted(schema['name'])}`);
  }
  const fields = schema['fields'];
  if (fields === undefined) return [...problems, `Schema.fields: ${MSG.REQUIRED_FOR_ENTITY_CHECK}`];
  return [
    ...problems,
    ...checkFieldEntries('Schema.fields', '', fields, (fieldPath, name, def) => checkPluginsEntityField(pluginName, fieldPath, name, def)),
  ];
}

/** init.lua Schema.new_subschema: top-level fields must specialise compatible plugins-entity fields. */
function checkPluginsEntityField(pluginName: unknown, path: string, name: string, def: Record<string, unknown>): string[] {
  const parent = PLUGINS_ENTITY_FIELDS[name];
  const prefix = `${path}: error in definition of '${luaToString(pluginName)}': ${name}:`;
  if (parent === undefined) return [`${prefix} cannot create a new field`];
  const type = def['type'];
  const elements = def['elements'];
  const elementsType = isPlainObject(elements) ? elements['type'] : undefined;
  const compatible =
    (parent.type === 'record' && type === 'json') ||
    (parent.type === type && (parent.elements === undefined || parent.elements === elementsType));
  return compatible ? [] : [`${prefix} cannot change type in a specialized field`];
}

type TopLevelCheck = (path: string, name: string, def: Record<string, unknown>) => string[];

/** A `fields` array: a list of one-key maps from field name to definition. */
function checkFieldEntries(listPath: string, parentPath: string, fields: unknown, topLevelCheck?: TopLevelCheck): string[] {
  if (!isSequence(fields)) return [`${listPath}: ${MSG.ARRAY}`];
  const entries: unknown[] = Array.isArray(fields) ? fields : [];
  const siblings = entries.filter(isPlainObject);
  return entries.flatMap((entry, index) => {
    const entryPath = `${listPath}[${index}]`;
    if (!isPlainObject(entry)) return [`${entryPath}: ${MSG.MAP}`];
    const names = Object.keys(entry);
    if (names.length === 0) return [`${entryPath}: length must be 1`, `${entryPath}: ${META_MSG.FIELD_EMPTY}`];
    if (names.length > 1) return [`${entryPath}: length must be 1`];
    const name = names[0] ?? '';
    const fieldPath = parentPath === '' ? name : `${parentPath}.${name}`;
    if (name === '') return [`${entryPath}: length must be at least 1`];
    const def = entry[name];
    if (!isPlainObject(def)) return [`${fieldPath}: ${MSG.RECORD}`];
    return [...(topLevelCheck?.(fieldPath, name, def) ?? []), ...checkFieldDefinition(fieldPath, def, siblings)];
  });
}

/** One field definition: its attributes (validated like Kong's metaschema does), then check_field. */
function checkFieldDefinition(path: string, def: Record<string, unknown>, siblings: Array<Record<string, unknown>>): string[] {
  return [...checkFieldAttributes(path, def), ...checkFieldStructure(path, def, siblings)];
}

function checkFieldAttributes(path: string, def: Record<string, unknown>): string[] {
  const processed = processAutoFields(FIELD_DEFINITION_SCHEMA, def, 'insert');
  return [
    ...flattenErrors(validateRecord(FIELD_DEFINITION_SCHEMA, processed), path),
    ...checkEntityChecks(`${path}.entity_checks`, def['entity_checks']),
  ];
}

/**
 * A schema's (or record field's) entity_checks, as the metaschema validates them: each entry a record
 * naming exactly one checker, its argument of that checker's shape. Kong does not check that the
 * field names a check refers to exist.
 */
function checkEntityChecks(path: string, checks: unknown): string[] {
  if (!Array.isArray(checks)) return []; // absent, or reported as not an array by the record's own validation
  return checks.flatMap((check: unknown, index) => {
    const checkPath = `${path}[${index}]`;
    if (!isPlainObject(check)) return [`${checkPath}: ${MSG.RECORD}`];
    const processed = processAutoFields(ENTITY_CHECK_SCHEMA, check, 'insert');
    const problems = flattenErrors(validateRecord(ENTITY_CHECK_SCHEMA, processed), checkPath);
    const named = recordFields(ENTITY_CHECK_SCHEMA).filter(([name]) => isNonEmpty(processed[name]));
    if (named.length !== 1) problems.push(`${checkPath}: ${ONE_CHECKER_PER_ENTRY}`);
    for (const [name] of named) {
      const argument = processed[name];
      if (!isPlainObject(argument)) continue;
      for (const match of ['if_match', 'then_match', 'else_match']) {
        const rules = argument[match];
        if (isPlainObject(rules)) problems.push(...checkMatchSubfields(`${checkPath}.${name}.${match}`, rules));
      }
    }
    return problems;
  });
}

/** init.lua is_nonempty. */
function isNonEmpty(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return false;
  return !(isLuaTable(value) && luaPairs(value).length === 0);
}

/** A match's elements/keys/values: records of the field attributes (conditional_validators), all the way down. */
function checkMatchSubfields(path: string, rules: Record<string, unknown>): string[] {
  return (['elements', 'keys', 'values'] as const).flatMap((attribute) => {
    const def = rules[attribute];
    if (def === undefined || def === null) return [];
    if (!isPlainObject(def)) return [`${path}.${attribute}: ${MSG.RECORD}`];
    return [...checkFieldAttributes(`${path}.${attribute}`, def), ...checkMatchSubfields(`${path}.${attribute}`, def)];
  });
}

/** metaschema.lua check_field. */
function checkFieldStructure(path: string, def: Record<string, unknown>, siblings: Array<Record<string, unknown>>): string[] {
  const type = def['type'];
  if (type === undefined || type === null) return [`${path}: ${META_MSG.TYPE}`];
  const typeName = luaToString(type);
  const problems: string[] = [];
  const required = def['abstract'] && type === 'record' ? [] : (REQUIRED_ATTRIBUTES[typeName] ?? []);
  for (const attribute of required) {
    if (def[attribute] === undefined || def[attribute] === false) problems.push(`${path}: ${META_MSG.required(typeName, attribute)}`);
  }
  for (const attribute of Object.keys(def)) {
    const allowedTypes = ATTRIBUTE_TYPES[attribute];
    if (allowedTypes !== undefined && !allowedTypes.includes(typeName))
      problems.push(`${path}: ${META_MSG.attribute(typeName, attribute)}`);
  }
  for (const attribute of ['elements', 'keys', 'values'] as const) {
    const nested = def[attribute];
    if (nested === undefined) continue;
    if (isPlainObject(nested)) problems.push(...checkFieldDefinition(`${path}.${attribute}`, nested, siblings));
    else problems.push(`${path}: ${META_MSG.table(attribute)}`);
  }
  if (type === 'json') problems.push(...checkJsonParentKey(path, def, siblings));
  if (def['fields'] !== undefined) problems.push(...checkFieldEntries(`${path}.fields`, path, def['fields']));
  return problems;
}

function checkJsonParentKey(path: string, def: Record<string, unknown>, siblings: Array<Record<string, unknown>>): string[] {
  const jsonSchema = def['json_schema'];
  const parentKey = isPlainObject(jsonSchema) ? jsonSchema['parent_subschema_key'] : undefined;
  if (parentKey === undefined) return [];
  const parent = siblings.find((entry) => typeof parentKey === 'string' && Object.hasOwn(entry, parentKey));
  if (parent === undefined) return [`${path}.json_schema.parent_subschema_key: ${META_MSG.JSON_PARENT_KEY}`];
  const parentDef = parent[String(parentKey)];
  return isPlainObject(parentDef) && parentDef['type'] === 'string'
    ? []
    : [`${path}.json_schema.parent_subschema_key: ${META_MSG.JSON_PARENT_KEY_TYPE}`];
}

function flattenErrors(tree: ErrorTree | null | undefined, path: string): string[] {
  if (tree === null || tree === undefined) return [];
  if (typeof tree === 'string') return [`${path}: ${tree}`];
  if (Array.isArray(tree)) return tree.flatMap((error, index) => flattenErrors(error, `${path}[${index}]`));
  return Object.entries(tree).flatMap(([key, error]) => flattenErrors(error, `${path}.${key}`));
}
