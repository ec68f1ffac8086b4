import { ROOT_CONTEXT, SpanKind, trace, type Context as TraceContext, type Tracer } from '@opentelemetry/api';
import { errors, jwtVerify, type JWTPayload } from 'jose';
import { LRUCache } from 'lru-cache';
import type { SigningCredential } from './signing-credential.js';
import { AuthError } from '../errors.js';
import { createHmacVerifyKeys } from './hmac-keys.js';
import { splitCompact, type CompactParts } from './compact-jws.js';
import { inSpan } from '../ops/telemetry.js';
import { invalidToken } from './invalid-token.js';
import type { KeySet, SigningKey } from './key-set.js';
import { refusedHeader, verifyParts } from './signing-keys.js';
import {
  REMOTE_ALGORITHMS,
  verifiesWith,
  type RemoteAlg,
  type RemoteKey,
  type RemoteKeySet,
  type RemoteKeySource,
} from './remote-key-set.js';

/** What verifying reads of token-validator's config (its fields, named as in kong.yml). */
export interface VerifyOptions {
  readonly issuer?: string | undefined;
  readonly audience: readonly string[];
  readonly key_claim_name: string;
  readonly clock_skew_seconds: number;
  readonly max_token_age_seconds?: number | undefined;
  /** The algorithms a token may be signed with (token-validator's `algorithms`); HS256 alone when absent. */
  readonly algorithms?: readonly string[];
  /** The header `typ` values a token may have (token-validator's `token_types`); any when absent or empty. */
  readonly token_types?: readonly string[];
}

/** 9999-12-31T23:59:59Z: the last second an ISO 8601 date (and the endpoint's answer) can show in four digits. */
const LAST_NUMERIC_DATE = 253_402_300_799;
const TIME_CLAIMS = ['exp', 'iat', 'nbf'] as const;
const malformed = (detail = 'The token is not a well-formed JWT') => invalidToken('malformed', detail);

const HMAC_ONLY: readonly string[] = ['HS256'];

const isRemoteAlg = (alg: unknown): alg is RemoteAlg => (REMOTE_ALGORITHMS as readonly unknown[]).includes(alg);
type InvalidRemote = 'key_mismatch' | 'algorithm' | 'signature';
const REMOTE_REFUSALS: Record<InvalidRemote, string> = {
  key_mismatch: "The token's kid names no key of the identity provider's set",
  algorithm: 'The token algorithm is not one its key takes',
  signature: 'The token signature does not verify',
};

/**
 * Header and claims read without verifying anything: only to refuse early and to find the key, never to
 * trust. AUTH_011 malformed unless the token is three canonical base64url segments of JSON objects, with
 * exp and any iat and nbf whole or fractional seconds from 1970 to the end of 9999, and without a header
 * that points at a key or asks for processing we do not do (jku, x5u, x5c, jwk, crit: RFC 8725 §3.1);
 * AUTH_011 algorithm unless the header's alg is one of `algorithms` — so `none` and anything not allowed
 * never reach a lookup or a verifier — and for an HS256 token naming a key of our set by its kid (a public
 * key used as an HMAC secret: alg confusion).
 */
function decodeToken(token: string, algorithms: readonly string[], keys: KeySet | undefined): CompactParts {
  const parts = splitCompact(token);
  if (!parts) throw malformed();
  const { header, claims } = parts;
  const refused = refusedHeader(header);
  if (refused !== undefined) throw malformed(`The token header "${refused}" is not accepted`);
  if (typeof header.alg !== 'string' || !algorithms.includes(header.alg))
    throw invalidToken(
      'algorithm',
      `The token algorithm ${JSON.stringify(header.alg)} is not accepted; accepted: ${algorithms.join(', ')}`,
    );
  if (header.alg === 'HS256' && typeof header.kid === 'string' && keys?.byKid.has(header.kid))
    throw invalidToken('algorithm', 'The token is HS256 under the kid of a public key');
  for (const claim of TIME_CLAIMS) {
    const value = claims[claim];
    if (value === undefined && claim !== 'exp') continue;
    if (typeof value !== 'number' || !(value >= 0 && value <= LAST_NUMERIC_DATE))
      throw malformed(`The token claim "${claim}" is not a date between 1970 and 9999`);
  }
  return parts;
}

/** A media type as RFC 7515 §4.1.9 compares it: case-insensitively, `application/` optional. */
const mediaType = (typ: string) => typ.toLowerCase().replace(/^application\//, '');

/** AUTH_011 token_type unless the header's `typ` is one of `token_types` (RFC 8725 §3.11: explicit typing). */
function refuseByType(header: Record<string, unknown>, opts: VerifyOptions): void {
  const types = opts.token_types;
  if (types === undefined || types.length === 0) return;
  const typ = header.typ;
  if (typeof typ === 'string' && types.some((type) => mediaType(type) === mediaType(typ))) return;
  throw invalidToken('token_type', `The token type is not accepted; accepted: ${types.join(', ')}`);
}

/** Claims only an OpenID Connect ID token has (OIDC Core §2, §3.1.3.6): never an access token for an API. */
const ID_TOKEN_CLAIMS = ['nonce', 'at_hash'] as const;

/** AUTH_011 token_type for an identity provider's ID token presented as an access token. */
function refuseIdToken(claims: JWTPayload): void {
  const marker = ID_TOKEN_CLAIMS.find((claim) => claims[claim] !== undefined);
  if (marker !== undefined) throw invalidToken('token_type', `The token is an ID token (it has "${marker}"), not an access token`);
}

function expired(exp: unknown, cause?: unknown): AuthError {
  return new AuthError('AUTH_010', undefined, {
    extensions: { expiredAt: typeof exp === 'number' ? new Date(exp * 1000).toISOString() : null, reason: 'Token has expired' },
    cause,
  });
}
const tooOld = () => invalidToken('too_old', 'The token is older than the accepted maximum age');
const noUsableIssuedAt = () => invalidToken('too_old', 'The token has no usable issued-at time');
const notYetValid = () => invalidToken('not_yet_valid', 'The token is not valid yet');

/** What jose refuses on time alone (nbf, exp, the maximum age), in its order, for decoded claims. */
function refuseByTime(claims: JWTPayload, opts: VerifyOptions, now: number): void {
  const skew = opts.clock_skew_seconds;
  if (claims.nbf !== undefined && claims.nbf > now + skew) throw notYetValid();
  if ((claims.exp as number) <= now - skew) throw expired(claims.exp);
  if (opts.max_token_age_seconds === undefined) return;
  if (claims.iat === undefined) throw noUsableIssuedAt();
  const age = now - claims.iat;
  if (age - skew > opts.max_token_age_seconds) throw tooOld();
  if (age < -skew) throw noUsableIssuedAt();
}

/** jose's iss and aud checks, for tokens whose signature node:crypto checked. */
function refuseByIssuerAudience(claims: JWTPayload, opts: VerifyOptions): void {
  if (opts.issuer !== undefined && claims.iss !== opts.issuer) throw invalidToken('issuer', 'The token issuer is not accepted');
  if (opts.audience.length === 0) return;
  const aud = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
  if (!aud.some((value) => opts.audience.includes(value))) throw invalidToken('audience', 'The token audience is not accepted');
}

/** A token verified with a key of the sidecar's set. */
export interface KeySetToken {
  payload: JWTPayload;
  kid: string;
}

export interface TokenVerifier {
  /** Verifies an HS256 token's signature and claims; AUTH_010 when expired, AUTH_011 with a reason otherwise. */
  verify(token: string, credential: SigningCredential, opts: VerifyOptions, traced?: TraceContext): Promise<JWTPayload>;
  /**
   * Whether a token is signed by a key of the sidecar's own set rather than a consumer's HS256 secret: its
   * header's alg is an asymmetric one. Decodes it first, with decodeToken's refusals.
   */
  isKeySetToken(token: string, opts: VerifyOptions): boolean;
  /**
   * Verifies a token signed by a key of the sidecar's set, found by its exact kid, with the key's algorithm;
   * its claims as verify checks them. AUTH_011 key_mismatch without a key directory or for a kid not in
   * the set, 503 AUTH_004 while no key set has been loaded.
   */
  verifyWithKeySet(token: string, opts: VerifyOptions, traced?: TraceContext): Promise<KeySetToken>;
  /**
   * Verifies a token of a remote identity provider with the key its exact kid names in the provider's set
   * (`source`), under the header's alg only when it is one of `algorithms` and a key of its type takes it;
   * its claims as verify checks them. A kid the set lacks, or a signature that fails under it, has the set
   * fetched again (at most once per cooldown: the source's rule) and checked once more. 503 AUTH_004 while
   * the source has no set; AUTH_011 key_mismatch (no kid, or not in the set), algorithm, signature.
   */
  verifyWithRemoteKeys(token: string, opts: VerifyOptions, source: RemoteKeySource, traced?: TraceContext): Promise<KeySetToken>;
  /**
   * The claims of a token, decoded and NOT verified (to find its credential by the key claim): from the
   * tokens already verified when it is one, else decoded (decodeToken's refusals). With the plugin's
   * options, also what time alone refuses (AUTH_010, AUTH_011 not_yet_valid / too_old), as verify would.
   */
  claimsOf(token: string, opts?: VerifyOptions): JWTPayload;
}

/** A token accepted for one credential or key object and one plugin config, until its time checks could fail. */
interface VerifiedToken {
  signer: SigningCredential | SigningKey | RemoteKey;
  /** The key's kid, for a token of the key set. */
  kid: string | undefined;
  alg: string;
  opts: VerifyOptions;
  payload: JWTPayload;
  /** The first second at which jose could refuse it (exp, or iat + max age, plus the clock skew). */
  validUntil: number;
}

/** Clients send the same token with every request until it expires; this many are remembered. */
const VERIFIED_TOKENS = 10_000;

/** The first second at which jose would refuse a token it accepted (time only moves forward, so nbf stays met). */
function firstRefusal(payload: JWTPayload, opts: VerifyOptions): number {
  const byExp = (payload.exp as number) + opts.clock_skew_seconds;
  if (opts.max_token_age_seconds === undefined || typeof payload.iat !== 'number') return byExp;
  return Math.min(byExp, payload.iat + opts.max_token_age_seconds + opts.clock_skew_seconds);
}

export function createTokenVerifier(deps: {
  nowSeconds: () => number;
  tracer?: Tracer;
  /** The sidecar's key set (the last good one of SIGNING_KEYS_DIR); absent without a key directory. */
  keys?: () => KeySet | undefined;
}): TokenVerifier {
  const tracer = deps.tracer ?? trace.getTracer('kong-auth-sidecar');
  const keySet = () => deps.keys?.();
  // The last token decoded, with what it was decoded under: finding a token's key and verifying it decode
  // the same token back to back, and its segments' base64url and JSON are a good part of a new token's cost.
  let last: { token: string; algorithms: readonly string[]; keys: KeySet | undefined; parts: CompactParts } | undefined;
  const decodeOnce = (token: string, algorithms: readonly string[], keys: KeySet | undefined): CompactParts => {
    if (last && last.token === token && last.algorithms === algorithms && last.keys === keys) return last.parts;
    const parts = decodeToken(token, algorithms, keys);
    last = { token, algorithms, keys, parts };
    return parts;
  };
  const decode = (token: string, opts: VerifyOptions | undefined) => decodeOnce(token, opts?.algorithms ?? HMAC_ONLY, keySet());
  const keyOf = createHmacVerifyKeys();
  // As Envoy's jwt_authn cache: a token already verified with this very credential (a rotated secret is a
  // new credential object) and config is not verified again; only its lifetime is checked.
  const verified = new LRUCache<string, VerifiedToken>({ max: VERIFIED_TOKENS });

  const traced = <T>(parent: TraceContext | undefined, fn: () => Promise<T>) =>
    inSpan(tracer, 'jwt verify', SpanKind.INTERNAL, fn, { parent: parent ?? ROOT_CONTEXT });
  const remember = (token: string, entry: Omit<VerifiedToken, 'validUntil'>) =>
    verified.set(token, { ...entry, validUntil: firstRefusal(entry.payload, entry.opts) });
  /** A remembered token for this very signer and config, whose time checks still hold. */
  const recall = (token: string, signer: object | undefined, opts: VerifyOptions) => {
    const known = verified.get(token);
    return known && known.signer === signer && known.opts === opts && deps.nowSeconds() < known.validUntil ? known : undefined;
  };

  return {
    claimsOf(token, opts) {
      const claims = verified.peek(token)?.payload ?? decode(token, opts).claims;
      if (opts) refuseByTime(claims, opts, deps.nowSeconds());
      return claims;
    },

    isKeySetToken(token, opts) {
      const known = verified.peek(token);
      const alg = known && known.opts === opts ? known.alg : decode(token, opts).header.alg;
      return alg !== 'HS256';
    },

    verify(token, credential, opts, parent) {
      const known = recall(token, credential, opts);
      if (known) return Promise.resolve(known.payload);
      return traced(parent, async () => {
        const payload = Object.freeze(await verify(token, credential, opts));
        remember(token, { signer: credential, kid: undefined, alg: 'HS256', opts, payload });
        return payload;
      });
    },

    verifyWithKeySet(token, opts, parent) {
      if (!deps.keys) return Promise.reject(invalidToken('key_mismatch', 'No signing key directory is configured to verify this token'));
      const set = deps.keys();
      if (!set) return Promise.reject(new AuthError('AUTH_004', 'No signing key set is loaded yet', { retryAfterSeconds: 5 }));
      const peeked = verified.peek(token);
      const known = peeked?.kid === undefined ? undefined : recall(token, set.byKid.get(peeked.kid), opts);
      if (known) return Promise.resolve({ payload: known.payload, kid: known.kid as string });
      return traced(parent, async () => {
        const parts = decodeOnce(token, opts.algorithms ?? HMAC_ONLY, set);
        refuseByType(parts.header, opts);
        // What time alone refuses comes first, as for HS256 tokens; then the key and its signature.
        refuseByTime(parts.claims, opts, deps.nowSeconds());
        const { key } = verifyParts(parts, set);
        refuseByIssuerAudience(parts.claims, opts);
        const payload = Object.freeze(parts.claims as JWTPayload);
        remember(token, { signer: key, kid: key.kid, alg: key.alg, opts, payload });
        return { payload, kid: key.kid };
      });
    },

    async verifyWithRemoteKeys(token, opts, source, parent) {
      const set = await source.keys();
      if (!set) throw new AuthError('AUTH_004', "The identity provider's key set has not been fetched", { retryAfterSeconds: 5 });
      const peeked = verified.peek(token);
      const known = peeked?.kid === undefined ? undefined : recall(token, set.byKid.get(peeked.kid), opts);
      if (known) return { payload: known.payload, kid: known.kid as string };
      return traced(parent, async () => {
        const parts = decodeOnce(token, opts.algorithms ?? HMAC_ONLY, undefined);
        refuseByType(parts.header, opts);
        refuseIdToken(parts.claims);
        refuseByTime(parts.claims, opts, deps.nowSeconds());
        const { kid, alg } = parts.header;
        if (!isRemoteAlg(alg)) throw invalidToken('algorithm', `The token algorithm ${JSON.stringify(alg)} has no key in a JWKS`);
        if (typeof kid !== 'string') throw invalidToken('key_mismatch', 'The token has no "kid" naming a key of the identity provider');
        let signer = remoteSigner(parts, kid, alg, set);
        // The provider may have added the kid, or re-keyed under it, since the set was fetched.
        if (signer === 'key_mismatch' || signer === 'signature') {
          const again = await source.refetch();
          if (again !== set) signer = remoteSigner(parts, kid, alg, again);
        }
        if (typeof signer === 'string') throw invalidToken(signer, REMOTE_REFUSALS[signer]);
        refuseByIssuerAudience(parts.claims, opts);
        const payload = Object.freeze(parts.claims as JWTPayload);
        remember(token, { signer, kid, alg, opts, payload });
        return { payload, kid };
      });
    },
  };

  /** The key of `set` that signed the token under its kid and alg, or why none did. */
  function remoteSigner(parts: CompactParts, kid: string, alg: RemoteAlg, set: RemoteKeySet | undefined): RemoteKey | InvalidRemote {
    const key = set?.byKid.get(kid);
    if (!key) return 'key_mismatch';
    if (!key.algs.includes(alg)) return 'algorithm';
    return verifiesWith(alg, key.publicKey, parts.signingInput, parts.signature) ? key : 'signature';
  }

  async function verify(token: string, credential: SigningCredential, opts: VerifyOptions): Promise<JWTPayload> {
    // The refusals claimsOf makes, for endpoint mode too, which looks its credential up by consumer.
    refuseByType(decode(token, opts).header, opts);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, await keyOf(credential), {
        algorithms: ['HS256'],
        // Stricter than jose's default: a token without exp never expires, which we do not accept.
        requiredClaims: ['exp'],
        issuer: opts.issuer,
        audience: opts.audience.length > 0 ? [...opts.audience] : undefined,
        clockTolerance: opts.clock_skew_seconds,
        maxTokenAge: opts.max_token_age_seconds,
        currentDate: new Date(deps.nowSeconds() * 1000),
      }));
    } catch (err) {
      throw translate(err);
    }
    if (payload[opts.key_claim_name] !== credential.key)
      throw invalidToken('key_mismatch', `The token's "${opts.key_claim_name}" claim does not name this credential`);
    return payload;
  }
}

/** jose's errors by code, never by message. */
function translate(err: unknown): AuthError {
  if (err instanceof errors.JWTExpired) return err.claim === 'iat' ? tooOld() : expired(err.payload.exp, err);
  if (err instanceof errors.JWSSignatureVerificationFailed) return invalidToken('signature', 'The token signature does not verify');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return notYetValid();
    if (err.claim === 'iss') return invalidToken('issuer', 'The token issuer is not accepted');
    if (err.claim === 'aud') return invalidToken('audience', 'The token audience is not accepted');
    if (err.claim === 'iat') return noUsableIssuedAt();
    return invalidToken('malformed', `The token claim "${err.claim}" is invalid`);
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return invalidToken('algorithm', 'The token algorithm is not accepted');
  return invalidToken('malformed', 'The token is not a well-formed JWT');
}
