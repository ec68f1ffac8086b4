import { entityTag } from '../tokens/jwks.js';
import type { PublicDocument } from './well-known.js';

/** The token-issuer fields the metadata document is made of. */
export interface MetadataFields {
  readonly issuer: string | undefined;
  readonly token_endpoint: string | undefined;
  readonly jwks_uri: string | undefined;
  readonly revocation_endpoint: string | undefined;
  readonly introspection_endpoint: string | undefined;
  readonly scopes_supported: readonly string[];
}

/**
 * The one client authentication the OAuth routes take: the client id and secret as HTTP Basic, which
 * Kong's basic-auth checks in front of them (RFC 8414 §2, RFC 6749 §2.3.1).
 */
const CLIENT_AUTH_METHODS = ['client_secret_basic'];

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * RFC 8414 §2: the issuer is an https URL without query or fragment (http only for a loopback host,
 * for development). Why it is not one, or undefined.
 */
export function issuerProblem(issuer: string | undefined): string | undefined {
  if (issuer === undefined) return 'metadata mode needs issuer: the `iss` of the tokens, byte for byte';
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return 'issuer must be an absolute URL';
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)))
    return 'issuer must be an https URL (http only for localhost)';
  if (issuer.includes('?') || issuer.includes('#')) return 'issuer must have no query and no fragment';
  return undefined;
}

/**
 * The RFC 8414 authorization server metadata of a route's config, serialized once; or why the config
 * cannot make one. Endpoints are absolute URLs from the config (Kong knows the public host, the plugin
 * server does not): the schema already checked their form. Revocation and introspection appear only
 * when configured. `response_types_supported` is required by §2 and empty: there is no authorization
 * endpoint, only the client credentials grant.
 */
export function serverMetadata(conf: MetadataFields): { document: PublicDocument } | { problem: string } {
  const problem = issuerProblem(conf.issuer);
  if (problem) return { problem };
  if (conf.token_endpoint === undefined || conf.jwks_uri === undefined)
    return { problem: 'metadata mode needs token_endpoint and jwks_uri' };
  const metadata: Record<string, unknown> = {
    issuer: conf.issuer,
    token_endpoint: conf.token_endpoint,
    jwks_uri: conf.jwks_uri,
    grant_types_supported: ['client_credentials'],
    token_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    response_types_supported: [],
  };
  if (conf.scopes_supported.length > 0) metadata.scopes_supported = conf.scopes_supported;
  if (conf.revocation_endpoint !== undefined) {
    metadata.revocation_endpoint = conf.revocation_endpoint;
    metadata.revocation_endpoint_auth_methods_supported = CLIENT_AUTH_METHODS;
  }
  if (conf.introspection_endpoint !== undefined) {
    metadata.introspection_endpoint = conf.introspection_endpoint;
    metadata.introspection_endpoint_auth_methods_supported = CLIENT_AUTH_METHODS;
  }
  const body = JSON.stringify(metadata);
  return { document: { body, etag: entityTag(body), contentType: 'application/json' } };
}
