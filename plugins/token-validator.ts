import type { Context } from '../lib/context.js';
import { AuthError } from '../lib/errors.js';
import type { Kong, PluginDescription, PluginModule, SchemaField } from '../lib/plugin.js';
import { asHeaderMap, requestIdFrom } from '../lib/request-headers.js';
import { exitWithProblem } from '../lib/respond.js';
import { VERSION } from '../lib/version.js';

// Placeholder until validation lands: the schema is final enough for kong.yml, and every request is
// refused with AUTH_008 rather than waved through, so a route that enables it early fails closed.
export const Schema: SchemaField[] = [
  { mode: { type: 'string', default: 'endpoint', one_of: ['endpoint', 'gate'], required: true, description: 'endpoint answers itself; gate protects an upstream.' } },
  { issuer: { type: 'string', description: 'Required iss claim when set.' } },
  { audience: { type: 'array', elements: { type: 'string' }, default: [], required: true, description: 'Accepted aud values when non-empty.' } },
  { key_claim_name: { type: 'string', default: 'key', required: true, description: 'Claim carrying the credential key.' } },
  { clock_skew_seconds: { type: 'integer', default: 0, between: [0, 300], required: true, description: 'Leeway for exp and nbf, in seconds.' } },
];

export const description: PluginDescription = { Name: 'token-validator', Version: VERSION, Priority: 900, Phases: ['access'], Schema };

export function tokenValidator(ctx: Context): PluginModule {
  class Plugin {
    async access(kong: Kong): Promise<void> {
      let requestId = '';
      try {
        requestId = requestIdFrom(asHeaderMap(await kong.request.getHeaders()));
        throw new AuthError('AUTH_008', 'token-validator is not available in this version');
      } catch (err) {
        await exitWithProblem(kong, err, requestId || requestIdFrom({}), ctx, 'token-validate');
      }
    }
  }
  return { ...description, Plugin };
}
