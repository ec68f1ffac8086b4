import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { ROOT_CONTEXT, SpanKind, trace, type Context as TraceContext, type Tracer } from '@opentelemetry/api';
import type { SigningCredential } from './signing-credential.js';
import { AuthError } from '../errors.js';
import { inSyncSpan } from '../ops/telemetry.js';
import { tokenIdAt } from './token-id.js';
import { encodeSegment } from './compact-jws.js';

/** What signing reads of token-issuer's config (its fields, named as in kong.yml). */
export interface IssueOptions {
  readonly ttl_seconds: number;
  readonly issuer?: string | undefined;
  readonly audience: readonly string[];
  readonly key_claim_name: string;
  readonly unique_name_prefix?: string | undefined;
}

export interface IssuedToken {
  accessToken: string;
  jti: string;
  expiresIn: number;
}

export interface TokenService {
  /**
   * Signs an HS256 JWT for `subject` with the credential's secret, with a `scope` claim when `scopes` has any;
   * AUTH_003 when signing fails. Synchronous: HMAC is.
   */
  issue(subject: string, credential: SigningCredential, opts: IssueOptions, traced?: TraceContext, scopes?: readonly string[]): IssuedToken;
}

// Our header never changes: its base64url form is computed once.
const PROTECTED_HEADER = encodeSegment({ alg: 'HS256', typ: 'JWT' });

/**
 * The compact JWS of `claims` under our fixed HS256 header, with node:crypto's HMAC. Byte for byte what
 * jose's SignJWT produces for the same claims (spec/lib/tokens.test.ts holds it to that), at a fraction
 * of the cost: WebCrypto's asynchronous HMAC was the largest single cost per issued token.
 */
export function signHs256(claims: Record<string, unknown>, key: KeyObject): string {
  const input = `${PROTECTED_HEADER}.${encodeSegment(claims)}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}

export function createTokenService(deps: { nowMs: () => number; tracer?: Tracer }): TokenService {
  const tracer = deps.tracer ?? trace.getTracer('kong-auth-sidecar');
  // The secret's UTF-8 bytes (Kong's secret_is_base64: false), as a key object once per cached credential.
  const keys = new WeakMap<SigningCredential, KeyObject>();
  const keyOf = (credential: SigningCredential) => {
    let key = keys.get(credential);
    if (!key) {
      key = createSecretKey(Buffer.from(credential.secret, 'utf8'));
      keys.set(credential, key);
    }
    return key;
  };

  function sign(subject: string, credential: SigningCredential, opts: IssueOptions, scopes: readonly string[]): IssuedToken {
    if (credential.secret === '') throw new AuthError('AUTH_003', 'The credential has no secret to sign with');
    const issuedAt = deps.nowMs();
    const iat = Math.floor(issuedAt / 1000);
    const jti = tokenIdAt(issuedAt);
    const claims: Record<string, unknown> = {
      sub: subject,
      name: subject,
      [opts.key_claim_name]: credential.key,
      jti,
      iat,
      nbf: iat,
      exp: iat + opts.ttl_seconds,
    };
    if (opts.issuer !== undefined) claims.iss = opts.issuer;
    if (opts.audience.length > 0) claims.aud = opts.audience.length === 1 ? opts.audience[0] : opts.audience;
    if (opts.unique_name_prefix !== undefined) claims.unique_name = opts.unique_name_prefix + subject;
    if (scopes.length > 0) claims.scope = scopes.join(' ');
    try {
      return { accessToken: signHs256(claims, keyOf(credential)), jti, expiresIn: opts.ttl_seconds };
    } catch (err) {
      keys.delete(credential);
      throw new AuthError('AUTH_003', undefined, { cause: err });
    }
  }

  return {
    issue(subject, credential, opts, traced, scopes = []) {
      return inSyncSpan(tracer, 'jwt sign', SpanKind.INTERNAL, traced ?? ROOT_CONTEXT, () => sign(subject, credential, opts, scopes));
    },
  };
}
