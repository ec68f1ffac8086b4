import { randomUUID } from 'node:crypto';
import { SpanKind, trace, type Tracer } from '@opentelemetry/api';
import { SignJWT } from 'jose';
import { inSpan } from './telemetry.js';
import { AuthError } from './errors.js';
import { createHmacKeys } from './hmac-keys.js';
import type { SigningCredential } from './credentials.js';

export interface IssueOptions {
  ttlSeconds: number;
  issuer?: string;
  audience: string[];
  keyClaimName: string;
  uniqueNamePrefix?: string;
}

export interface IssuedToken {
  accessToken: string;
  jti: string;
  expiresIn: number;
}

export interface TokenService {
  /** Signs an HS256 JWT for `subject` with the credential's secret (SPEC §3); AUTH_003 when signing fails. */
  issue(subject: string, credential: SigningCredential, opts: IssueOptions): Promise<IssuedToken>;
}

export function createTokenService(deps: { nowSeconds: () => number; tracer?: Tracer }): TokenService {
  const tracer = deps.tracer ?? trace.getTracer('kong-auth-sidecar');
  const keys = createHmacKeys('sign');

  return {
    issue(subject, credential, opts) {
      return inSpan(tracer, 'jwt sign', SpanKind.INTERNAL, () => sign(subject, credential, opts));
    },
  };

  async function sign(subject: string, credential: SigningCredential, opts: IssueOptions): Promise<IssuedToken> {
    const iat = deps.nowSeconds();
    const jti = randomUUID();
    const claims: Record<string, unknown> = { sub: subject, name: subject, [opts.keyClaimName]: credential.key, jti, iat, nbf: iat, exp: iat + opts.ttlSeconds };
    if (opts.issuer !== undefined) claims.iss = opts.issuer;
    if (opts.audience.length > 0) claims.aud = opts.audience.length === 1 ? opts.audience[0] : opts.audience;
    if (opts.uniqueNamePrefix !== undefined) claims.unique_name = opts.uniqueNamePrefix + subject;
    try {
      const accessToken = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(await keys.keyOf(credential));
      return { accessToken, jti, expiresIn: opts.ttlSeconds };
    } catch (err) {
      keys.forget(credential);
      throw new AuthError('AUTH_003', undefined, { cause: err });
    }
  }
}
