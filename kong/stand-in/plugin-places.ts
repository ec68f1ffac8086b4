import { OUR_PLUGINS } from './kong-harness.js';
import type { KongPlugin, KongYml } from './kong-yml.js';

/** A config of one of our plugins in a declarative file, and where it is. */
export interface PluginPlace {
  where: string;
  plugin: KongPlugin;
}

/** Every config of our plugins in a decK file: global, per service, per route. */
export function ourPluginPlaces(yml: KongYml): PluginPlace[] {
  return [
    ...yml.plugins.map((plugin) => ({ where: 'plugins', plugin })),
    ...yml.services.flatMap((service) => [
      ...service.plugins.map((plugin) => ({ where: `services.${service.name ?? service.id}`, plugin })),
      ...service.routes.flatMap((route) => route.plugins.map((plugin) => ({ where: `routes.${route.name ?? route.id}`, plugin }))),
    ]),
    ...yml.routes.flatMap((route) => route.plugins.map((plugin) => ({ where: `routes.${route.name ?? route.id}`, plugin }))),
  ].filter(({ plugin }) => (OUR_PLUGINS as readonly string[]).includes(plugin.name));
}

/**
 * The token-issuer `metadata` configs whose `issuer` no token route of the file puts in its tokens' `iss`:
 * RFC 8414 §3.3 has clients refuse metadata whose issuer is not the one they expect, byte for byte,
 * and token verifiers compare `iss` with it. One message per such config.
 */
export function unmatchedMetadataIssuers(places: PluginPlace[]): string[] {
  const issuers = places
    .filter(({ plugin }) => plugin.name === 'token-issuer')
    .map(({ where, plugin }) => ({ where, config: plugin.config ?? {} }));
  const issued = new Set(issuers.filter(({ config }) => (config.mode ?? 'token') === 'token').map(({ config }) => config.issuer));
  return issuers
    .filter(({ config }) => config.mode === 'metadata' && !issued.has(config.issuer))
    .map(
      ({ where, config }) =>
        `${where} token-issuer: metadata issuer ${JSON.stringify(config.issuer)} is the issuer of no token route in this file`,
    );
}
