import type { Context as TraceContext } from '@opentelemetry/api';
import type { JWTPayload } from 'jose';
import { isEntityName, keyClaim } from '../credentials/entity-name.js';
import { invalidToken } from '../tokens/invalid-token.js';
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

/** A verified token and the consumer it is for. */
export interface ConsumerToken {
  claims: JWTPayload;
  consumerId: string;
  /** The credential the gate hands kong.client.authenticate: the HS256 credential, or the key of the set by its kid. */
  credential: { id?: string | undefined; key: string };
}

/** The consumer a token of the key set is for: its `client_id`, verified with the token. */
function clientIdOf(claims: JWTPayload): string {
  const id = claims.client_id;
  if (!isEntityName(id)) throw invalidToken('key_mismatch', 'The token has no "client_id" claim naming a consumer');
  return id;
}

/**
 * A token and its consumer, from the token alone (gate, introspection, revocation): a token of the key set
 * is verified locally by its kid and is for the consumer its `client_id` names; an HS256 token is verified
 * with the credential its key claim names, and is for that credential's consumer.
 */
export async function verifiedToken(
  ctx: Deps,
  token: string,
  opts: VerifyOptions,
  traced: TraceContext | undefined,
): Promise<ConsumerToken> {
  if (ctx.verifier.isKeySetToken(token, opts)) {
    const { payload, kid } = await ctx.verifier.verifyWithKeySet(token, opts, traced);
    return { claims: payload, consumerId: clientIdOf(payload), credential: { key: kid } };
  }
  const credential = await credentialOfToken(ctx, token, opts, traced);
  const claims = await verifyToken(ctx, token, credential, opts, 'key', traced);
  return { claims, consumerId: credential.consumerId, credential: { id: credential.credentialId, key: credential.key } };
}

/**
 * A token verified for the consumer the request names (endpoint mode): a token of the key set must be for
 * that consumer (AUTH_011 key_mismatch otherwise); an HS256 token is verified with that consumer's credential.
 */
export async function verifiedTokenOf(
  ctx: Deps,
  token: string,
  consumerId: string,
  opts: VerifyOptions,
  traced: TraceContext | undefined,
): Promise<JWTPayload> {
  if (ctx.verifier.isKeySetToken(token, opts)) {
    const { payload } = await ctx.verifier.verifyWithKeySet(token, opts, traced);
    if (clientIdOf(payload) !== consumerId) throw invalidToken('key_mismatch', 'The token is not for this consumer');
    return payload;
  }
  const credential = await ctx.credentials.forConsumer(consumerId, { provision: false, traced });
  return verifyToken(ctx, token, credential, opts, 'consumer', traced);
}
