import { AuthError } from '../errors.js';
import type { Kong } from '../kong/plugin.js';
import { parseScopeParameter } from '../tokens/scopes.js';
import { readForm } from './form-body.js';
import type { HeaderMap } from './request-headers.js';

/** An OAuth 2.0 client credentials token request (RFC 6749 §4.4.2), the client already authenticated by Kong. */
export interface ClientCredentialsRequest {
  /** The `scope` parameter, parsed; undefined without one. */
  scope: string[] | undefined;
}

function invalidRequest(detail: string, reason: string): AuthError {
  return new AuthError('AUTH_015', detail, { extensions: { reason } });
}

/**
 * A `scope` value (RFC 6749 §3.3) from the query string or a form, or undefined when absent; AUTH_014
 * when it is malformed or sent more than once.
 */
export function scopeParameter(raw: unknown): string[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  const values: unknown[] = Array.isArray(raw) ? raw : [raw];
  const parsed = values.length === 1 && typeof values[0] === 'string' ? parseScopeParameter(values[0]) : undefined;
  if (parsed === undefined) {
    throw new AuthError('AUTH_014', 'The scope parameter must be sent once, as scope tokens separated by single spaces', {
      extensions: { reason: 'malformed' },
    });
  }
  return parsed;
}

/**
 * Reads the token request of a form POST: the query string (one round trip: client credentials there
 * are refused, RFC 6749 §2.3.1), then the form body (one round trip). Unknown parameters are ignored
 * (§3.2). Every refusal is AUTH_015 (invalid_request), AUTH_016 or AUTH_014.
 */
export async function readClientCredentialsRequest(kong: Kong, headers: HeaderMap): Promise<ClientCredentialsRequest> {
  const query = (await kong.request.getQuery()) as Record<string, unknown> | null;
  if (query && (query.client_secret !== undefined || query.client_id !== undefined))
    throw invalidRequest('Client credentials must not be sent in the query string', 'credentials_in_query');
  const form = await readForm(kong, headers);
  const grantType = form.get('grant_type');
  if (grantType === undefined || grantType === '') throw invalidRequest('The grant_type parameter is missing', 'missing_parameter');
  if (grantType !== 'client_credentials')
    throw new AuthError('AUTH_016', 'Only the client_credentials grant type is supported', { extensions: { reason: 'grant_type' } });
  // Kong authenticated the client: a secret in the body would be a second method, one nobody checks (§2.3).
  if (form.has('client_secret'))
    throw invalidRequest('The client authenticates with HTTP Basic, not with a client_secret parameter', 'multiple_client_authentication');
  const clientId = form.get('client_id');
  if (clientId !== undefined && clientId !== singleValue(headers['x-credential-identifier']))
    throw invalidRequest('The client_id parameter does not name the authenticated client', 'client_id_mismatch');
  return { scope: scopeParameter(form.get('scope')) };
}

function singleValue(raw: HeaderMap[string]): string | undefined {
  if (Array.isArray(raw)) return raw.length === 1 ? raw[0] : undefined;
  return raw;
}
