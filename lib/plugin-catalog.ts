import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { description as issuerDescription } from '../plugins/token-issuer.js';
import { description as validatorDescription } from '../plugins/token-validator.js';
import { description as revocationDescription } from '../plugins/token-revocation.js';
import { pluginInfo, type PluginDescription } from './kong/plugin.js';

/** The plugins this server serves, as Kong's query_cmd sees them. */
export const PLUGIN_DESCRIPTIONS: readonly PluginDescription[] = [issuerDescription, validatorDescription, revocationDescription];

/** What `--dump-plugin-info <name>` prints: a one-element array (Kong 3.9+ keeps only the first entry). */
export function pluginInfoFile(description: PluginDescription): string {
  return JSON.stringify([pluginInfo(description)]) + '\n';
}

/**
 * Writes `<dir>/<plugin>.json` for each plugin, so Kong's container (which has no Node) can use
 * `cat <dir>/<plugin>.json` as its query_cmd from a volume it shares with us.
 */
export function publishPluginInfo(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const description of PLUGIN_DESCRIPTIONS) writeFileSync(join(dir, `${description.Name}.json`), pluginInfoFile(description));
}
