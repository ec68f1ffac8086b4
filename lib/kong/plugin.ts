import type { Kong } from './kong-pdk.js';

export type { Kong };

/** Kong phase names a plugin server may implement. */
export type Phase = 'certificate' | 'rewrite' | 'access' | 'response' | 'preread' | 'log';

/** One entry of a Kong schema `fields` list: `{ field_name: definition }`. */
export type SchemaField = Record<string, Record<string, unknown>>;

/** What Kong learns from `query_cmd`, before any instance exists. */
export interface PluginDescription {
  Name: string;
  Version: string;
  Priority: number;
  Phases: readonly Phase[];
  Schema: readonly SchemaField[];
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
    Schema: { name: plugin.Name, fields: [{ config: { type: 'record', fields: plugin.Schema } }] },
  };
}

/** Kong fills defaults before StartInstance; this does it again for fields an older Kong schema lacked. */
export function withDefaults(schema: readonly SchemaField[], config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const entry of schema) {
    for (const [name, def] of Object.entries(entry)) {
      const value = config[name];
      out[name] = value === undefined || value === null ? def.default : value;
    }
  }
  return out;
}
