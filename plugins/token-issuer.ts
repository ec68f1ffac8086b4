import type { Context as TraceContext } from '@opentelemetry/api';
import type { PluginContext } from '../lib/access/plugin-context.js';
import { AuthError } from '../lib/errors.js';
import {
  withDefaults,
  type Kong,
  type PluginConfig,
  type PluginDescription,
  type ConditionalCheck,
  type FieldName,
  type PluginModule,
  type SchemaField,
  urlField,
} from '../lib/kong/plugin.js';
import { rateLimitHeaders } from '../lib/access/rate-limiter.js';
import { authenticatedConsumer } from '../lib/access/kong-consumer.js';
import { consumerName, readConsumerHeaders } from '../lib/access/request-headers.js';
import { runAccessPhase, type PhaseOptions } from '../lib/access/phase.js';
import { exitWith, jsonNoStoreHeaders, tokenAnswerBody } from '../lib/access/respond.js';
import { VERSION } from '../lib/version.js';
import { TOKEN_ALGORITHMS, type IssuedToken } from '../lib/tokens/signer.js';
import { KEY_ALGS } from '../lib/tokens/key-manifest.js';
import { grantScopes, scopesFromTags } from '../lib/tokens/scopes.js';
import { isFormRequest } from '../lib/access/form-body.js';
import { readClientCredentialsRequest, scopeParameter, type ClientCredentialsRequest } from '../lib/access/token-request.js';
import { serveDocument, type PublicDocument } from '../lib/access/well-known.js';
import { serverMetadata } from '../lib/access/server-metadata.js';

const RESERVED_CLAIMS = ['sub', 'name', 'jti', 'iat', 'nbf', 'exp', 'iss', 'aud', 'unique_name'] as const;

export const Schema = [
  {
    ttl_seconds: {
      type: 'integer',
      default: 900,
      between: [60, 86400],
      required: true,
      description: 'Token lifetime in seconds: `exp` = `iat` + this, and `expires_in` in the answer.',
    },
  },
  { issuer: { type: 'string', description: 'The `iss` claim. Left out when unset.' } },
  {
    audience: {
      type: 'array',
      elements: { type: 'string' },
      default: [],
      required: true,
      description: 'The `aud` claim: one entry gives a string, several give an array. Left out when empty.',
    },
  },
  {
    key_claim_name: {
      type: 'string',
      default: 'key',
      required: true,
      not_one_of: RESERVED_CLAIMS,
      description:
        "Claim that carries the credential key (the `key_claim_name` of Kong's `jwt` plugin). It cannot be `sub`, `name`, `jti`, `iat`, `nbf`, `exp`, `iss`, `aud` or `unique_name`.",
    },
  },
  {
    unique_name_prefix: {
      type: 'string',
      description: "When set, the token gets a `unique_name` claim: this prefix followed by the consumer's name.",
    },
  },
  {
    verify_consumer: {
      type: 'boolean',
      default: true,
      required: true,
      description:
        '`X-Consumer-ID` must name the consumer Kong authenticated, and Kong must have authenticated it with a credential (the anonymous consumer has none).',
    },
  },
  {
    provision_credentials: {
      type: 'boolean',
      default: true,
      required: true,
      description: 'Create an HS256 `jwt` credential for a consumer that has none. Never done while `verify_consumer` is off.',
    },
  },
  {
    rate_limit_per_minute: {
      type: 'integer',
      default: 0,
      between: [0, 1000000],
      required: true,
      description: 'Tokens per consumer per minute, shared through Redis when Redis is configured, else counted per process. 0: no limit.',
    },
  },
  {
    request_id_source: {
      type: 'string',
      default: 'header',
      one_of: ['header', 'kong'],
      required: true,
      description: "`header`: the request id is the incoming `X-Request-Id`, else a new UUID. `kong`: Kong's own `kong_request_id`.",
    },
  },
  {
    scope_tag_prefix: {
      type: 'string',
      default: 'scope:',
      required: true,
      description:
        "Consumer tags that allow a scope: a tag of this prefix followed by the scope (`scope:orders.read` allows `orders.read`). Only the consumer's tags in Kong decide what a token may carry, never the client.",
    },
  },
  {
    default_scopes: {
      type: 'array',
      elements: { type: 'string' },
      default: [],
      required: true,
      description:
        'Scopes a token gets when the client asks for none (no `scope` query parameter, or form parameter for a client credentials request), as far as the consumer is allowed them. Empty: every scope the consumer is allowed.',
    },
  },
  {
    scope_query_parameter: {
      type: 'boolean',
      default: true,
      required: true,
      description:
        'A GET may ask for scopes with the `scope` query parameter: one more round trip to Kong (`get_query`) for each token of a consumer with scope tags. Off: the query is never read, and tokens get `default_scopes` (as far as allowed).',
    },
  },
  {
    client_credentials_only: {
      type: 'boolean',
      default: false,
      required: true,
      description:
        'Answer only OAuth 2.0 client credentials requests (a form POST with `grant_type`): any other request is refused with `invalid_request`. For a route that is an OAuth token endpoint and nothing else.',
    },
  },
  {
    mode: {
      type: 'string',
      default: 'token',
      one_of: ['token', 'jwks', 'metadata'],
      required: true,
      description:
        '`token`: the route issues tokens. `jwks`: it answers `GET` with the public keys of `SIGNING_KEYS_DIR` as a JWKS (for `/.well-known/jwks.json`). `metadata`: RFC 8414 authorization server metadata (for `/.well-known/oauth-authorization-server`) from `issuer` and the fields below.',
    },
  },
  {
    max_age_seconds: {
      type: 'integer',
      default: 300,
      between: [0, 86400],
      required: true,
      description:
        '`jwks` and `metadata` modes: `Cache-Control: public, max-age` of the answer, in seconds. `keys promote --publish-ahead` must be at least this plus the time a key directory change takes to reach every sidecar.',
    },
  },
  { token_endpoint: urlField('`metadata` mode, required: the public URL of the client credentials route (basic-auth in front of it).') },
  { jwks_uri: urlField('`metadata` mode, required: the public URL of the `jwks` route.') },
  {
    revocation_endpoint: urlField(
      '`metadata` mode: the public URL of the token-revocation route (basic-auth in front of it), when there is one.',
    ),
  },
  {
    introspection_endpoint: urlField(
      '`metadata` mode: the public URL of an introspection route (basic-auth in front of it), when there is one.',
    ),
  },
  {
    scopes_supported: {
      type: 'array',
      elements: { type: 'string' },
      default: [],
      required: true,
      description: '`metadata` mode: the scopes clients may ask for, published as `scopes_supported`. Empty: left out.',
    },
  },
  {
    algorithm: {
      type: 'string',
      default: 'HS256',
      one_of: TOKEN_ALGORITHMS,
      required: true,
      description:
        "`HS256`: signed with the consumer's `jwt` credential secret, which only Kong can verify. `ES256`, `EdDSA`, `RS256`: signed with the current key of that algorithm in `SIGNING_KEYS_DIR` (header `kid`), verifiable by anyone from the published JWKS; the token carries the consumer's id in `client_id` instead of a credential key, and no credential is read or provisioned.",
    },
  },
  {
    token_profile: {
      type: 'string',
      default: 'jwt',
      one_of: ['jwt', 'rfc9068'],
      required: true,
      description:
        '`rfc9068`: RFC 9068 access tokens: header `typ: at+jwt`, with `iss`, `aud`, `sub`, `client_id`, `iat`, `exp`, `jti` (and `scope`). Needs `issuer`, a non-empty `audience` and an asymmetric `algorithm`.',
    },
  },
] as const satisfies readonly SchemaField[];

const RFC_9068 = { if_field: 'token_profile', if_match: { eq: 'rfc9068' } } as const;
/** An RFC 9068 token has iss and aud (§2.2) and is verified from the published keys (§4), so Kong refuses a config without them. */
const ENTITY_CHECKS: readonly ConditionalCheck<FieldName<typeof Schema>>[] = [
  { conditional: { ...RFC_9068, then_field: 'issuer', then_match: { required: true } } },
  { conditional: { ...RFC_9068, then_field: 'audience', then_match: { len_min: 1 } } },
  { conditional: { ...RFC_9068, then_field: 'algorithm', then_match: { one_of: KEY_ALGS } } },
];

type IssuerConfig = PluginConfig<typeof Schema>;

/** Kong's own request id (Kong 3.5+ returns it as X-Kong-Request-Id): one extra round trip, only when configured. */
async function kongRequestId(kong: Kong, fallback: string): Promise<string> {
  const id = await kong.nginx.getVar('kong_request_id');
  return typeof id === 'string' && id !== '' ? id : fallback;
}

/** The `scope` query parameter of a GET: one round trip. */
async function queryScope(kong: Kong): Promise<string[] | undefined> {
  return scopeParameter(((await kong.request.getQuery()) as Record<string, unknown> | null)?.scope);
}

/**
 * The scopes the token carries and whether the answer names them. A GET answer names them when they
 * differ from the request (RFC 6749 §5.1); an OAuth answer names them whenever there are any, which
 * every client library reads. The query is read only for a consumer with scope tags: the others get no
 * scope, whatever the client asks, and pay no round trip for it. A form's scope was read with its body,
 * and one a consumer without scope tags asks for is refused.
 */
async function scopesToIssue(
  kong: Kong,
  conf: IssuerConfig,
  tags: unknown,
  oauth: ClientCredentialsRequest | undefined,
): Promise<{ granted: readonly string[]; announce: boolean }> {
  const allowed = scopesFromTags(tags, conf.scope_tag_prefix);
  // An OAuth answer without `scope` tells the client it got what it asked for (§5.1), so a form's scope is always decided.
  if (allowed.length === 0 && oauth?.scope === undefined) return { granted: [], announce: false };
  const requested = oauth ? oauth.scope : conf.scope_query_parameter ? await queryScope(kong) : undefined;
  const grant = grantScopes(allowed, requested, conf.default_scopes);
  if ('refused' in grant) {
    throw new AuthError('AUTH_014', 'The consumer is not allowed every requested scope', {
      extensions: { reason: 'not_allowed', refusedScopes: grant.refused },
    });
  }
  const announce = (oauth !== undefined || requested === undefined) && grant.granted.length > 0;
  return { granted: grant.granted, announce };
}

export const description: PluginDescription = {
  Name: 'token-issuer',
  Version: VERSION,
  Priority: 900,
  Phases: ['access'],
  Schema,
  EntityChecks: ENTITY_CHECKS,
};

export function tokenIssuer(ctx: PluginContext): PluginModule {
  const PHASE: PhaseOptions = {
    plugin: 'token-issuer',
    action: 'token-issue',
    // Every form request is an OAuth token request (RFC 6749 §4.4): its refusals are §5.2 errors.
    oauth: isFormRequest,
    count(refusal) {
      if (!refusal) ctx.metrics.tokenIssued();
    },
  };
  const PUBLISH_PHASE: PhaseOptions = { plugin: 'token-issuer', action: 'document-serve', count() {} };

  /** The JWKS of the last good key set: 503 AUTH_019 while there is none, never an empty set. */
  function jwksDocument(): PublicDocument {
    if (!ctx.signingKeys) throw new AuthError('AUTH_019', 'This sidecar has no SIGNING_KEYS_DIR: it has no keys to publish');
    const loaded = ctx.signingKeys.keys();
    if (!loaded) throw new AuthError('AUTH_019', 'SIGNING_KEYS_DIR holds no valid key set yet', { retryAfterSeconds: 5 });
    return { body: loaded.jwks.body, etag: loaded.jwks.etag, contentType: 'application/jwk-set+json' };
  }

  class Plugin {
    private readonly conf: IssuerConfig;
    /** metadata mode: the document, built once, or what the config lacks for one (AUTH_008, the reason in the log). */
    private readonly metadata: ReturnType<typeof serverMetadata> | undefined;

    constructor(config: Record<string, unknown>) {
      this.conf = withDefaults(Schema, config);
      this.metadata = this.conf.mode === 'metadata' ? serverMetadata(this.conf) : undefined;
    }

    private document(): PublicDocument {
      if (!this.metadata) return jwksDocument();
      if ('problem' in this.metadata)
        throw new AuthError('AUTH_008', undefined, { cause: new Error(`token-issuer: ${this.metadata.problem}`) });
      return this.metadata.document;
    }

    /** HS256 with the consumer's credential (read, or provisioned), or the key set's current key of the algorithm. */
    private async sign(
      consumerId: string,
      subject: string,
      scopes: readonly string[],
      traced: TraceContext | undefined,
    ): Promise<IssuedToken> {
      const alg = this.conf.algorithm;
      if (alg !== 'HS256') return ctx.tokens.issueWithKeySet(alg, { id: consumerId, name: subject }, this.conf, traced, scopes);
      // An identity nobody verified may read a credential, never create one.
      const provision = this.conf.provision_credentials && this.conf.verify_consumer;
      const credential = await ctx.credentials.forConsumer(consumerId, { provision, traced });
      return ctx.tokens.issue(subject, credential, this.conf, traced, scopes);
    }

    access(kong: Kong): Promise<void> {
      const publishing = this.conf.mode !== 'token';
      return runAccessPhase(kong, ctx, publishing ? PUBLISH_PHASE : PHASE, async (state) => {
        if (this.conf.request_id_source === 'kong') state.requestId = await kongRequestId(kong, state.requestId);
        if (publishing) {
          const served = await serveDocument(kong, state.headers, () => this.document(), this.conf.max_age_seconds, state.requestId);
          return { message: `${this.conf.mode} ${served}`, fields: {} };
        }
        if (this.conf.client_credentials_only && !state.oauth) {
          state.oauth = true;
          throw new AuthError('AUTH_015', 'A token request is an application/x-www-form-urlencoded POST', {
            extensions: { reason: 'content_type' },
          });
        }
        const claimed = readConsumerHeaders(state.headers);
        state.span.setAttribute('user.id', claimed.consumerId);
        const oauth = state.oauth ? await readClientCredentialsRequest(kong, state.headers) : undefined;
        if (this.conf.verify_consumer) await authenticatedConsumer(kong, claimed);
        let limitHeaders: Record<string, string> | undefined;
        if (this.conf.rate_limit_per_minute > 0) {
          const decision = await ctx.rateLimiter.hit(claimed.consumerId, this.conf.rate_limit_per_minute);
          limitHeaders = rateLimitHeaders(decision);
          if (!decision.allowed)
            throw new AuthError('AUTH_006', undefined, { retryAfterSeconds: decision.resetSeconds, headers: limitHeaders });
        }
        // The consumer as Kong holds it (read, cached, from the Admin API): its tags, and its name once Kong vouched for its id.
        let consumer = await ctx.credentials.consumer(claimed.consumerId, state.trace);
        // Kong's auth plugins name the consumer in the headers as Kong holds it now: a copy naming it otherwise
        // (renamed since) is re-read, and the name is the Admin API's, never the header's.
        if (this.conf.verify_consumer && consumerName(consumer) !== claimed.consumerName)
          consumer = (await ctx.credentials.refreshConsumer(claimed.consumerId, state.trace)) ?? consumer;
        const subject = this.conf.verify_consumer ? consumerName(consumer) : claimed.consumerName;
        const scopes = await scopesToIssue(kong, this.conf, consumer.tags, oauth);
        const token = await this.sign(claimed.consumerId, subject, scopes.granted, state.trace);
        const body = tokenAnswerBody(token.accessToken, token.expiresIn, scopes.announce ? scopes.granted.join(' ') : undefined);
        await exitWith(kong, 200, body, jsonNoStoreHeaders(state.requestId, limitHeaders));
        return { message: 'token issued', fields: { 'user.id': claimed.consumerId, 'user.name': subject, 'event.id': token.jti } };
      });
    }
  }
  return { ...description, Plugin };
}
