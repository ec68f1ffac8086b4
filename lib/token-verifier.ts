import { ROOT_CONTEXT, SpanKind, trace, type Context as TraceContext, type Tracer } from '@opentelemetry/api';
import { decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import { LRUCache } from 'lru-cache';
import type { SigningCredential } from './credentials.js';
import { AuthError } from './errors.js';
import { createHmacVerifyKeys } from './hmac-keys.js';
import { inSpan } from './telemetry.js';

/** AUTH_011's fixed `extensions.reason` values. */
export type InvalidReason = 'malformed' | 'signature' | 'algorithm' | 'not_yet_valid' | 'issuer' | 'audience' | 'key_mismatch' | 'too_old';

export interface VerifyOptions {
  issuer?: string;
  audience: string[];
  keyClaimName: string;
  clockSkewSeconds: number;
  maxTokenAgeSeconds?: number;
}

export function invalidToken(reason: InvalidReason, detail: string): AuthError {
  return new AuthError('AUTH_011', detail, { extensions: { reason } });
}

/** Header and claims read without verifying anything: only to find the credential, never to trust. */
export function peekToken(token: string): { alg: unknown; claims: JWTPayload } {
  try {
    return { alg: decodeProtectedHeader(token).alg, claims: decodeJwt(token) };
  } catch {
    throw invalidToken('malformed', 'The token is not a well-formed JWT');
  }
}

/** The key claim, which names the credential (Kong jwt plugin's key_claim_name). */
export function keyClaim(claims: JWTPayload, keyClaimName: string): string {
  const key = claims[keyClaimName];
  if (typeof key !== 'string' || key === '') throw invalidToken('key_mismatch', `The token has no "${keyClaimName}" claim`);
  return key;
}

export interface TokenVerifier {
  /** Verifies signature and claims (SPEC §4); AUTH_010 when expired, AUTH_011 with a reason otherwise. */
  verify(token: string, credential: SigningCredential, opts: VerifyOptions, traced?: TraceContext): Promise<JWTPayload>;
  /**
   * The claims of a token, decoded and NOT verified (to find its credential by the key claim): from the
   * tokens already verified when it is one, else decoded; AUTH_011 malformed when it is not a JWT.
   */
  claimsOf(token: string): JWTPayload;
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
  const byExp = (payload.exp as number) + opts.clockSkewSeconds;
  if (opts.maxTokenAgeSeconds === undefined || typeof payload.iat !== 'number') return byExp;
  return Math.min(byExp, payload.iat + opts.maxTokenAgeSeconds + opts.clockSkewSeconds);
}

export function createTokenVerifier(deps: { nowSeconds: () => number; tracer?: Tracer }): TokenVerifier {
  const tracer = deps.tracer ?? trace.getTracer('kong-auth-sidecar');
  const keyOf = createHmacVerifyKeys();
  // As Envoy's jwt_authn cache: a token already verified with this very credential (a rotated secret is a
  // new credential object) and config is not verified again; only its lifetime is checked.
  const verified = new LRUCache<string, VerifiedToken>({ max: VERIFIED_TOKENS });

  return {
    claimsOf(token) {
      return verified.peek(token)?.payload ?? peekToken(token).claims;
    },

    verify(token, credential, opts, traced) {
      const known = verified.get(token);
      if (known && known.credential === credential && known.opts === opts && deps.nowSeconds() < known.validUntil) return Promise.resolve(known.payload);
      return inSpan(tracer, 'jwt verify', SpanKind.INTERNAL, async () => {
        const payload = Object.freeze(await verify(token, credential, opts));
        verified.set(token, { credential, opts, payload, validUntil: firstRefusal(payload, opts) });
        return payload;
      }, { parent: traced ?? ROOT_CONTEXT });
    },
  };

  async function verify(token: string, credential: SigningCredential, opts: VerifyOptions): Promise<JWTPayload> {
    // Checked before jose sees the token: only HS256, so `none`, RS/ES/PS and HS384/512 never reach a verifier.
    const { alg } = peekToken(token);
    if (alg !== 'HS256') throw invalidToken('algorithm', `The token algorithm ${JSON.stringify(alg)} is not accepted; HS256 is required`);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, await keyOf(credential), {
        algorithms: ['HS256'],
        // Stricter than jose's default: a token without exp never expires, which we do not accept.
        requiredClaims: ['exp'],
        issuer: opts.issuer,
        audience: opts.audience.length > 0 ? opts.audience : undefined,
        clockTolerance: opts.clockSkewSeconds,
        maxTokenAge: opts.maxTokenAgeSeconds,
        currentDate: new Date(deps.nowSeconds() * 1000),
      }));
    } catch (err) {
      throw translate(err);
    }
    if (payload[opts.keyClaimName] !== credential.key) throw invalidToken('key_mismatch', `The token's "${opts.keyClaimName}" claim does not name this credential`);
    return payload;
  }
}

/** jose's errors by code, never by message. */
function translate(err: unknown): AuthError {
  if (err instanceof errors.JWTExpired) {
    if (err.claim === 'iat') return invalidToken('too_old', 'The token is older than the accepted maximum age');
    const exp = err.payload.exp;
    return new AuthError('AUTH_010', undefined, { extensions: { expiredAt: typeof exp === 'number' ? new Date(exp * 1000).toISOString() : null, reason: 'Token has expired' }, cause: err });
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return invalidToken('signature', 'The token signature does not verify');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return invalidToken('not_yet_valid', 'The token is not valid yet');
    if (err.claim === 'iss') return invalidToken('issuer', 'The token issuer is not accepted');
    if (err.claim === 'aud') return invalidToken('audience', 'The token audience is not accepted');
    if (err.claim === 'iat') return invalidToken('too_old', 'The token has no usable issued-at time');
    return invalidToken('malformed', `The token claim "${err.claim}" is invalid`);
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return invalidToken('algorithm', 'The token algorithm is not accepted');
  return invalidToken('malformed', 'The token is not a well-formed JWT');
}
