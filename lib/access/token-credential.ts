import type { Context as TraceContext } from '@opentelemetry/api';
import type { JWTPayload } from 'jose';
import { keyClaim } from '../credentials/entity-name.js';
import { AuthError } from '../errors.js';
import type { SigningCredential } from '../tokens/signing-credential.js';
import type { VerifyOptions } from '../tokens/verifier.js';
import type { PluginContext } from './plugin-context.js';

type Deps = Pick<PluginContext, 'verifier' | 'credentials'>;

/**
 * The credential a token names by its key claim. What the token's form and times alone refuse is
 * refused first (AUTH_010, AUTH_011), so those cost no credential look-up.
 */
export function credentialOfToken(
  ctx: Deps,
  token: string,
  opts: VerifyOptions,
  traced: TraceContext | undefined,
): Promise<SigningCredential> {
  return ctx.credentials.forKey(keyClaim(ctx.verifier.claimsOf(token, opts), opts.key_claim_name), traced);
}

/** Verifies a token; a signature failure on a cached secret re-reads the credential once, so a rotated secret works at once. */
export async function verifyToken(
  ctx: Deps,
  token: string,
  credential: SigningCredential,
  opts: VerifyOptions,
  foundBy: 'consumer' | 'key',
  traced: TraceContext | undefined,
): Promise<JWTPayload> {
  try {
    return await ctx.verifier.verify(token, credential, opts, traced);
  } catch (err) {
    if (!(err instanceof AuthError && err.extensions?.reason === 'signature')) throw err;
    const rotated = await ctx.credentials.refreshAfterSignatureFailure(credential, foundBy, traced);
    if (!rotated) throw err;
    return ctx.verifier.verify(token, rotated, opts, traced);
  }
}
