import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { ROOT_CONTEXT, SpanKind, trace, type Context as TraceContext, type Tracer } from '@opentelemetry/api';
import type { SigningCredential } from './signing-credential.js';
import { AuthError } from '../errors.js';
import { inSyncSpan } from '../ops/telemetry.js';
import { tokenIdAt } from './token-id.js';
import { encodeSegment } from './compact-jws.js';
import { KEY_ALGS, type KeyAlg } from './key-manifest.js';
import type { KeySet } from './key-set.js';
import { signJwt } from './signing-keys.js';

/** RFC 8725 §3.5 / RFC 7518 §3.2: an HS256 key is at least as long as its hash; shorter secrets never sign (they still verify). */
export const MIN_HMAC_SECRET_BYTES = 32;

/** The algorithms of our tokens: HS256 with a consumer's secret, or a key of the sidecar's set. */
export const TOKEN_ALGORITHMS = ['HS256', ...KEY_ALGS] as const;

/** What signing reads of token-issuer's config (its fields, named as in kong.yml). */
export interface IssueOptions {
  readonly ttl_seconds: number;
  readonly issuer?: string | undefined;
  readonly audience: readonly string[];
  readonly key_claim_name: string;
  readonly unique_name_prefix?: string | undefined;
  /** `rfc9068`: the header's typ is `at+jwt` (RFC 9068 access tokens); the claims are the same. */
  readonly token_profile?: 'jwt' | 'rfc9068';
}

/** Who a token of the key set is for: the consumer's id (its `client_id`) and its name (`sub`, `name`). */
export interface TokenSubject {
  id: string;
  name: string;
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
  /**
   * Signs a token with the current key of `alg` of the sidecar's key set: header {alg, kid, typ}, the
   * consumer's id in `client_id` instead of a key claim. AUTH_003 `no_signing_key` without a key directory,
   * before a key set is loaded, or when the set has no current key of `alg`.
   */
  issueWithKeySet(alg: KeyAlg, subject: TokenSubject, opts: IssueOptions, traced?: TraceContext, scopes?: readonly string[]): IssuedToken;
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

const noSigningKey = (detail: string) => new AuthError('AUTH_003', detail, { extensions: { reason: 'no_signing_key' } });

export function createTokenService(deps: {
  nowMs: () => number;
  tracer?: Tracer;
  /** The sidecar's key set (the last good one of SIGNING_KEYS_DIR); absent without a key directory. */
  keys?: () => KeySet | undefined;
}): TokenService {
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

  /** The claims every token carries, `identity` (the key claim, or client_id) after sub and name. */
  function claimsFor(subject: string, identity: Record<string, string>, opts: IssueOptions, scopes: readonly string[]) {
    const issuedAt = deps.nowMs();
    const iat = Math.floor(issuedAt / 1000);
    const jti = tokenIdAt(issuedAt);
    const claims: Record<string, unknown> = { sub: subject, name: subject, ...identity, jti, iat, nbf: iat, exp: iat + opts.ttl_seconds };
    if (opts.issuer !== undefined) claims.iss = opts.issuer;
    if (opts.audience.length > 0) claims.aud = opts.audience.length === 1 ? opts.audience[0] : opts.audience;
    if (opts.unique_name_prefix !== undefined) claims.unique_name = opts.unique_name_prefix + subject;
    if (scopes.length > 0) claims.scope = scopes.join(' ');
    return { claims, jti };
  }

  function sign(subject: string, credential: SigningCredential, opts: IssueOptions, scopes: readonly string[]): IssuedToken {
    if (credential.secret === '') throw new AuthError('AUTH_003', 'The credential has no secret to sign with');
    if (Buffer.byteLength(credential.secret, 'utf8') < MIN_HMAC_SECRET_BYTES)
      throw new AuthError('AUTH_003', `The consumer's HS256 secret is shorter than ${MIN_HMAC_SECRET_BYTES} bytes; rotate it to sign`, {
        extensions: { reason: 'weak_secret' },
      });
    const { claims, jti } = claimsFor(subject, { [opts.key_claim_name]: credential.key }, opts, scopes);
    try {
      return { accessToken: signHs256(claims, keyOf(credential)), jti, expiresIn: opts.ttl_seconds };
    } catch (err) {
      keys.delete(credential);
      throw new AuthError('AUTH_003', undefined, { cause: err });
    }
  }

  function signWithKeySet(alg: KeyAlg, subject: TokenSubject, opts: IssueOptions, scopes: readonly string[]): IssuedToken {
    if (!deps.keys) throw noSigningKey(`No signing key directory (SIGNING_KEYS_DIR) is configured to sign ${alg} tokens`);
    const set = deps.keys();
    if (!set) throw noSigningKey('No signing key set is loaded yet');
    const key = set.current.get(alg);
    if (!key) throw noSigningKey(`The signing key set has no current ${alg} key`);
    const { claims, jti } = claimsFor(subject.name, { client_id: subject.id }, opts, scopes);
    try {
      return { accessToken: signJwt(claims, key, opts.token_profile === 'rfc9068' ? 'at+jwt' : 'JWT'), jti, expiresIn: opts.ttl_seconds };
    } catch (err) {
      throw new AuthError('AUTH_003', undefined, { cause: err });
    }
  }

  const inSignSpan = <T>(traced: TraceContext | undefined, fn: () => T) =>
    inSyncSpan(tracer, 'jwt sign', SpanKind.INTERNAL, traced ?? ROOT_CONTEXT, fn);

  return {
    issue(subject, credential, opts, traced, scopes = []) {
      return inSignSpan(traced, () => sign(subject, credential, opts, scopes));
    },
    issueWithKeySet(alg, subject, opts, traced, scopes = []) {
      return inSignSpan(traced, () => signWithKeySet(alg, subject, opts, scopes));
    },
  };
}
