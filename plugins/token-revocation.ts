import type { Context as TraceContext } from '@opentelemetry/api';
import type { PluginContext } from '../lib/access/plugin-context.js';
import { AuthError } from '../lib/errors.js';
import {
  withDefaults,
  type Kong,
  type PluginConfig,
  type PluginDescription,
  type PluginModule,
  type SchemaField,
} from '../lib/kong/plugin.js';
import { authenticatedConsumer } from '../lib/access/kong-consumer.js';
import { readConsumerHeaders } from '../lib/access/request-headers.js';
import { readForm, type FormParams } from '../lib/access/form-body.js';
import { runAccessPhase, type PhaseOptions } from '../lib/access/phase.js';
import { exitWith, jsonNoStoreHeaders } from '../lib/access/respond.js';
import { verifiedToken } from '../lib/access/token-credential.js';
import type { RevocationKind } from '../lib/ops/metrics.js';
import { REVOKED_TOKEN_LEEWAY_SECONDS } from '../lib/tokens/revocation-list.js';
import type { VerifyOptions } from '../lib/tokens/verifier.js';
import { TOKEN_ALGORITHMS } from '../lib/tokens/signer.js';
import { VERSION } from '../lib/version.js';

export const Schema = [
  {
    key_claim_name: {
      type: 'string',
      default: 'key',
      required: true,
      description: "Claim that names the token's credential: token-issuer's `key_claim_name`.",
    },
  },
  {
    allow_revoke_all: {
      type: 'boolean',
      default: false,
      required: true,
      description:
        'Accept `revoke=all`: every token of the calling consumer issued up to the answer is revoked ("log out everywhere"). Off: `revoke=all` is `invalid_request`.',
    },
  },
] as const satisfies readonly SchemaField[];

export const description: PluginDescription = { Name: 'token-revocation', Version: VERSION, Priority: 900, Phases: ['access'], Schema };

type RevocationConfig = PluginConfig<typeof Schema>;

/** What one well-formed request asks for: one token (RFC 7009 §2.1), or every token of the caller. */
type RevocationRequest = { all: true } | { all: false; token: string };

const formError = (detail: string, reason: string) => new AuthError('AUTH_015', detail, { extensions: { reason } });

/** RFC 7009 §2.1 parameters; unknown ones are ignored (RFC 6749 §3.2). */
function revocationRequest(form: FormParams, conf: RevocationConfig): RevocationRequest {
  const revoke = form.get('revoke');
  if (revoke !== undefined) {
    if (revoke !== 'all') throw formError('The revoke parameter can only be "all"', 'invalid_parameter');
    if (!conf.allow_revoke_all) throw formError('revoke=all is not enabled on this route', 'revoke_all_disabled');
    return { all: true };
  }
  const hint = form.get('token_type_hint');
  if (hint !== undefined && hint !== 'access_token')
    throw new AuthError('AUTH_017', 'Only access tokens are issued here, and only they can be revoked', {
      extensions: { tokenTypeHint: hint.slice(0, 64) },
    });
  const token = form.get('token');
  if (token === undefined || token === '') throw formError('The token parameter is required', 'missing_parameter');
  return { all: false, token };
}

/** The store's answer, or AUTH_018 with Retry-After: the route never answers 200 for a revocation that was not recorded. */
async function recorded<T>(write: Promise<T>): Promise<T> {
  try {
    return await write;
  } catch (err) {
    if (err instanceof AuthError && err.code === 'AUTH_018' && err.retryAfterSeconds !== undefined) throw err;
    throw new AuthError('AUTH_018', undefined, { retryAfterSeconds: 5, cause: err });
  }
}

export function tokenRevocation(ctx: PluginContext): PluginModule {
  const PHASE: PhaseOptions = { plugin: 'token-revocation', action: 'token-revoke', oauth: () => true, count() {} };

  /**
   * Revokes the token when it is the caller's own and a validator could still accept it; answers its
   * `jti`, or undefined when there is nothing to revoke (RFC 7009 §2.2: unknown, invalid, expired or
   * someone else's tokens get the same 200, so the answer tells nothing about a token).
   */
  async function revokeOwnToken(token: string, callerId: string, opts: VerifyOptions, traced: TraceContext | undefined) {
    let claims;
    try {
      const verified = await verifiedToken(ctx, token, opts, traced);
      if (verified.consumerId !== callerId) return undefined;
      claims = verified.claims;
    } catch (err) {
      // A refusal of the token is "nothing to revoke"; a look-up that could not answer is no answer at all.
      if (err instanceof AuthError && err.status < 500) return undefined;
      throw err;
    }
    if (typeof claims.jti !== 'string' || claims.jti === '')
      throw new AuthError('AUTH_017', 'The token has no jti: only revoke=all can revoke it', { extensions: { reason: 'no_token_id' } });
    await recorded(ctx.revocations.revokeToken(claims.jti, claims.exp as number));
    return claims.jti;
  }

  class Plugin {
    private readonly conf: RevocationConfig;
    /**
     * One object per instance: the verifier remembers tokens per options object. No issuer or audience
     * check (a token the caller's credential signed is the caller's), and the largest clock skew a
     * validator allows, so every token some validator would still admit is revoked, none refused as expired.
     */
    private readonly verifyOptions: VerifyOptions;

    constructor(config: Record<string, unknown>) {
      this.conf = withDefaults(Schema, config);
      this.verifyOptions = {
        audience: [],
        key_claim_name: this.conf.key_claim_name,
        clock_skew_seconds: REVOKED_TOKEN_LEEWAY_SECONDS,
        algorithms: TOKEN_ALGORITHMS,
      };
    }

    access(kong: Kong): Promise<void> {
      return runAccessPhase(kong, ctx, PHASE, async (state) => {
        const caller = readConsumerHeaders(state.headers);
        state.span.setAttribute('user.id', caller.consumerId);
        await authenticatedConsumer(kong, caller);
        const request = revocationRequest(await readForm(kong, state.headers), this.conf);
        let revoked: RevocationKind = 'all';
        let jti: string | undefined;
        if (request.all) await recorded(ctx.revocations.revokeConsumer(caller.consumerId));
        else {
          jti = await revokeOwnToken(request.token, caller.consumerId, this.verifyOptions, state.trace);
          revoked = jti === undefined ? 'nothing' : 'token';
        }
        ctx.metrics.tokenRevocation(revoked);
        await exitWith(kong, 200, '{}', jsonNoStoreHeaders(state.requestId));
        const fields: Record<string, unknown> = { 'user.id': caller.consumerId, 'revocation.revoked': revoked };
        if (jti !== undefined) fields['event.id'] = jti;
        return { message: revoked === 'nothing' ? 'nothing to revoke' : 'revoked', fields };
      });
    }
  }
  return { ...description, Plugin };
}
