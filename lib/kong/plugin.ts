import type { Kong } from './kong-pdk.js';

export type { Kong };

/** Kong phase names a plugin server may implement. */
export type Phase = 'certificate' | 'rewrite' | 'access' | 'response' | 'preread' | 'log';

/** A field of a Kong plugin schema, as far as our plugins use Kong's schema language. */
export interface FieldDefinition {
  type: 'string' | 'integer' | 'number' | 'boolean' | 'array';
  description: string;
  default?: unknown;
  required?: boolean;
  one_of?: readonly string[];
  not_one_of?: readonly string[];
  between?: readonly [number, number];
  /** Kong's match_any: the string matches one of these Lua patterns, else `err`. */
  match_any?: { readonly patterns: readonly string[]; readonly err: string };
  /** Kong's match_none: the string matches none of these Lua patterns; the first it matches gives its `err`. */
  match_none?: readonly { readonly pattern: string; readonly err: string }[];
  /** An array's fewest elements. */
  len_min?: number;
  elements?: { type: 'string'; one_of?: readonly string[] };
}

/** An optional absolute URL field: https, or http for a loopback host (development); no fragment. */
export const urlField = (description: string) =>
  ({
    type: 'string',
    description,
    match_none: [{ pattern: '[%s#]', err: 'must not contain whitespace or a fragment (#)' }],
    match_any: {
      patterns: [
        '^https://[%w][%w%.%-]*[:/]',
        '^https://[%w][%w%.%-]*$',
        '^http://localhost[:/]',
        '^http://localhost$',
        '^http://127%.0%.0%.1[:/]',
        '^http://127%.0%.0%.1$',
      ],
      err: 'must be an absolute https URL (http only for localhost and 127.0.0.1)',
    },
  }) as const;

/** One entry of a Kong schema `fields` list: `{ field_name: definition }`. */
export type SchemaField = Readonly<Record<string, FieldDefinition>>;

type FieldValue<F> = F extends { one_of: readonly (infer V)[] }
  ? V
  : F extends { type: 'string' }
    ? string
    : F extends { type: 'integer' | 'number' }
      ? number
      : F extends { type: 'boolean' }
        ? boolean
        : string[];
/** Kong fills a default before the plugin sees the config; a field without one may be absent. */
type EntryConfig<E> = { [K in keyof E]: E[K] extends { default: unknown } ? FieldValue<E[K]> : FieldValue<E[K]> | undefined };
type Intersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;

/**
 * The config Kong hands a plugin with schema `S`, read as Kong's own plugins read theirs
 * (`conf.ttl_seconds`): one property per field, typed from its definition. Declare the schema
 * `as const satisfies readonly SchemaField[]` so the types follow it.
 */
export type PluginConfig<S extends readonly SchemaField[]> = Readonly<
  Intersection<S[number] extends infer E ? (E extends unknown ? EntryConfig<E> : never) : never>
>;

/** The names of a schema's fields. */
export type FieldName<S extends readonly SchemaField[]> = S[number] extends infer E
  ? E extends unknown
    ? keyof E & string
    : never
  : never;

/**
 * Kong's `conditional` entity check between two fields of the config (named without `config.`): when
 * `if_field` matches `if_match`, `then_field` must match `then_match`. Kong answers a config that fails
 * it as it answers any other invalid field, so such a config never reaches the plugin server. Kong does
 * not check that the two fields exist (a check naming a field the config lacks refuses valid configs,
 * or on Kong 3.9 fails them with a Lua error): declare checks as `ConditionalCheck<FieldName<typeof Schema>>`
 * so the compiler does.
 */
export interface ConditionalCheck<Field extends string = string> {
  conditional: {
    if_field: Field;
    /** `eq`: the field has this value; `required`: the field is set (Kong's validator fails on null, so the check is skipped). */
    if_match: { eq: string } | { required: true };
    then_field: Field;
    then_match: {
      required?: true;
      len_min?: number;
      one_of?: readonly string[];
      /** An array field's elements, checked with these rules instead of the field's own. */
      elements?: { type: 'string'; one_of: readonly string[] };
    };
  };
}

/** What Kong learns from `query_cmd`, before any instance exists. */
export interface PluginDescription {
  Name: string;
  Version: string;
  Priority: number;
  Phases: readonly Phase[];
  Schema: readonly SchemaField[];
  /** Checks across fields, as Kong's schema `entity_checks`. */
  EntityChecks?: readonly ConditionalCheck[];
}

/** The checks as Kong's plugin schema holds them: its fields named by their path, `config.<field>`. */
export function entityChecks(plugin: PluginDescription): ConditionalCheck[] {
  return (plugin.EntityChecks ?? []).map(({ conditional: c }) => ({
    conditional: { ...c, if_field: `config.${c.if_field}`, then_field: `config.${c.then_field}` },
  }));
}

export type PhaseHandler = (kong: Kong) => Promise<void>;
export type PluginHandler = Partial<Record<Phase, PhaseHandler>>;

export interface PluginModule extends PluginDescription {
  /** Builds the handler of one configured plugin (one route / service) from its Kong config. */
  Plugin: new (config: Record<string, unknown>) => PluginHandler;
}

/** The info object Kong reads (kong/runloop/plugin_servers/process.lua): `Schema` is a Kong plugin schema. */
export function pluginInfo(plugin: PluginDescription) {
  return {
    Name: plugin.Name,
    Version: plugin.Version,
    Priority: plugin.Priority,
    Phases: plugin.Phases,
    Schema: {
      name: plugin.Name,
      fields: [{ config: { type: 'record', fields: plugin.Schema } }],
      ...(plugin.EntityChecks ? { entity_checks: entityChecks(plugin) } : {}),
    },
  };
}

/**
 * The schema's fields of `config`, defaults filled: Kong fills them before StartInstance, this does it
 * again for fields an older Kong schema lacked. Kong has validated the values against the schema.
 */
export function withDefaults<S extends readonly SchemaField[]>(schema: S, config: Record<string, unknown>): PluginConfig<S> {
  const out: Record<string, unknown> = {};
  for (const entry of schema) {
    for (const [name, def] of Object.entries(entry)) {
      const value = config[name];
      out[name] = value === undefined || value === null ? def.default : value;
    }
  }
  return out as PluginConfig<S>;
}
