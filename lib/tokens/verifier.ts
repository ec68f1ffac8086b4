import { ROOT_CONTEXT, SpanKind, trace, type Context as TraceContext, type Tracer } from '@opentelemetry/api';
import { errors, jwtVerify, type JWTPayload } from 'jose';
import { LRUCache } from 'lru-cache';
import type { SigningCredential } from './signing-credential.js';
import { AuthError } from '../errors.js';
import { createHmacVerifyKeys } from './hmac-keys.js';
import { splitCompact } from './compact-jws.js';
import { inSpan } from '../ops/telemetry.js';

/** AUTH_011's fixed `extensions.reason` values. */
export type InvalidReason = 'malformed' | 'signature' | 'algorithm' | 'not_yet_valid' | 'issuer' | 'audience' | 'key_mismatch' | 'too_old';

/** What verifying reads of token-validator's config (its fields, named as in kong.yml). */
export interface VerifyOptions {
  readonly issuer?: string | undefined;
  readonly audience: readonly string[];
  readonly key_claim_name: string;
  readonly clock_skew_seconds: number;
  readonly max_token_age_seconds?: number | undefined;
}

export function invalidToken(reason: InvalidReason, detail: string): AuthError {
  return new AuthError('AUTH_011', detail, { extensions: { reason } });
}

/** 9999-12-31T23:59:59Z: the last second an ISO 8601 date (and the endpoint's answer) can show in four digits. */
const LAST_NUMERIC_DATE = 253_402_300_799;
const TIME_CLAIMS = ['exp', 'iat', 'nbf'] as const;
const malformed = (detail = 'The token is not a well-formed JWT') => invalidToken('malformed', detail);

/**
 * Header and claims read without verifying anything: only to refuse early and to find the credential,
 * never to trust. AUTH_011 malformed unless the token is three canonical base64url segments of JSON
 * objects, with exp and any iat and nbf whole or fractional seconds from 1970 to the end of 9999; AUTH_011
 * algorithm unless the header says HS256.
 */
function decodeToken(token: string): JWTPayload {
  const parts = splitCompact(token);
  if (!parts) throw malformed();
  const { header, claims } = parts;
  // Only HS256, so `none`, RS/ES/PS and HS384/512 never reach a credential lookup or a verifier.
  if (header.alg !== 'HS256')
    throw invalidToken('algorithm', `The token algorithm ${JSON.stringify(header.alg)} is not accepted; HS256 is required`);
  for (const claim of TIME_CLAIMS) {
    const value = claims[claim];
    if (value === undefined && claim !== 'exp') continue;
    if (typeof value !== 'number' || !(value >= 0 && value <= LAST_NUMERIC_DATE))
      throw malformed(`The token claim "${claim}" is not a date between 1970 and 9999`);
  }
  return claims;
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

export interface TokenVerifier {
  /** Verifies signature and claims; AUTH_010 when expired, AUTH_011 with a reason otherwise. */
  verify(token: string, credential: SigningCredential, opts: VerifyOptions, traced?: TraceContext): Promise<JWTPayload>;
  /**
   * The claims of a token, decoded and NOT verified (to find its credential by the key claim): from the
   * tokens already verified when it is one, else decoded (decodeToken's refusals). With the plugin's
   * options, also what time alone refuses (AUTH_010, AUTH_011 not_yet_valid / too_old), as verify would.
   */
  claimsOf(token: string, opts?: VerifyOptions): JWTPayload;
}

/** A token jose accepted, for one credential object and one plugin config, until its time checks could fail. */
interface VerifiedToken {
  credential: SigningCredential;
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

export function createTokenVerifier(deps: { nowSeconds: () => number; tracer?: Tracer }): TokenVerifier {
  const tracer = deps.tracer ?? trace.getTracer('kong-auth-sidecar');
  const keyOf = createHmacVerifyKeys();
  // As Envoy's jwt_authn cache: a token already verified with this very credential (a rotated secret is a
  // new credential object) and config is not verified again; only its lifetime is checked.
  const verified = new LRUCache<string, VerifiedToken>({ max: VERIFIED_TOKENS });

  return {
    claimsOf(token, opts) {
      const claims = verified.peek(token)?.payload ?? decodeToken(token);
      if (opts) refuseByTime(claims, opts, deps.nowSeconds());
      return claims;
    },

    verify(token, credential, opts, traced) {
      const known = verified.get(token);
      if (known && known.credential === credential && known.opts === opts && deps.nowSeconds() < known.validUntil)
        return Promise.resolve(known.payload);
      return inSpan(
        tracer,
        'jwt verify',
        SpanKind.INTERNAL,
        async () => {
          const payload = Object.freeze(await verify(token, credential, opts));
          verified.set(token, { credential, opts, payload, validUntil: firstRefusal(payload, opts) });
          return payload;
        },
        { parent: traced ?? ROOT_CONTEXT },
      );
    },
  };

  async function verify(token: string, credential: SigningCredential, opts: VerifyOptions): Promise<JWTPayload> {
    // The refusals claimsOf makes, for endpoint mode too, which looks its credential up by consumer.
    decodeToken(token);
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
