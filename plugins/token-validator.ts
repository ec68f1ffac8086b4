import type { JWTPayload } from 'jose';
import { findToken } from '../lib/access/bearer-token.js';
import type { PluginContext } from '../lib/access/plugin-context.js';
import type { KongConsumer } from '../lib/credentials/admin-client.js';
import { AuthError, type AuthCode } from '../lib/errors.js';
import type { ValidationResult } from '../lib/ops/metrics.js';
import {
  bearerChallenge,
  clearedIdentityHeaders,
  GATE_MARK,
  gateHeaders,
  HEADERS_MARK,
  identityHeaders,
  remoteIdentityHeaders,
  unfitHeaderClaim,
} from '../lib/access/gate.js';
import {
  urlField,
  withDefaults,
  type ConditionalCheck,
  type FieldName,
  type Kong,
  type PluginConfig,
  type PluginDescription,
  type PluginModule,
  type SchemaField,
} from '../lib/kong/plugin.js';
import { authenticatedConsumer } from '../lib/access/kong-consumer.js';
import { readConsumerHeaders } from '../lib/access/request-headers.js';
import { readForm } from '../lib/access/form-body.js';
import { runAccessPhase, type PhaseOptions, type PhaseState } from '../lib/access/phase.js';
import { exitWith, jsonNoStoreHeaders } from '../lib/access/respond.js';
import { verifiedToken, verifiedTokenOf } from '../lib/access/token-credential.js';
import { hasScopes, scopesOf } from '../lib/tokens/scopes.js';
import { VERSION } from '../lib/version.js';
import { TOKEN_ALGORITHMS } from '../lib/tokens/signer.js';
import { REMOTE_ALGORITHMS, type RemoteKeySource } from '../lib/tokens/remote-key-set.js';
import { invalidToken } from '../lib/tokens/invalid-token.js';

/** Our own tokens' algorithms, and PS256, which only a remote identity provider's key set has. */
const ALGORITHMS = [...TOKEN_ALGORITHMS, 'PS256'] as const;

const strings = <const D extends readonly string[]>(description: string, fallback: D) =>
  ({ type: 'array', elements: { type: 'string' }, default: fallback, required: true, description }) as const;

export const Schema = [
  {
    mode: {
      type: 'string',
      default: 'endpoint',
      one_of: ['endpoint', 'gate', 'introspection'],
      required: true,
      description:
        "`endpoint`: the plugin answers the request itself. `gate`: it protects the route's upstream. `introspection`: an RFC 7662 introspection endpoint (`POST` form `token=…`) for resource servers Kong authenticated.",
    },
  },
  { issuer: { type: 'string', description: "When set, the token's `iss` must equal it." } },
  { audience: strings("When not empty, the token's `aud` must contain one of these values.", []) },
  {
    key_claim_name: {
      type: 'string',
      default: 'key',
      required: true,
      description: "Claim that names the credential (as in Kong's `jwt` plugin).",
    },
  },
  {
    clock_skew_seconds: {
      type: 'integer',
      default: 0,
      between: [0, 300],
      required: true,
      description: 'Leeway for `exp`, `nbf` and the maximum age, in seconds.',
    },
  },
  {
    max_token_age_seconds: {
      type: 'integer',
      between: [1, 604800],
      description: 'When set, tokens whose `iat` is older than this are refused, and so are tokens without an `iat`.',
    },
  },
  {
    algorithms: {
      type: 'array',
      elements: { type: 'string', one_of: ALGORITHMS },
      default: ['HS256'],
      len_min: 1,
      required: true,
      description:
        "Algorithms a token may be signed with; any other (`none` included) is refused with `AUTH_011` `algorithm`. `HS256` tokens are checked with the consumer's `jwt` credential; `ES256`, `EdDSA` and `RS256` tokens with the key of `SIGNING_KEYS_DIR` their `kid` names, locally and with that key's algorithm, and are for the consumer their `client_id` names. With `jwks_uri`: `RS256`, `PS256`, `ES256` and `EdDSA` only, checked with the provider's keys.",
    },
  },
  { header_names: strings('Headers that carry `Bearer <token>`. The scheme is matched case-insensitively.', ['authorization']) },
  {
    uri_param_names: strings(
      'Query parameters that carry the token, for WebSocket clients. Off by default, because URLs end up in logs.',
      [],
    ),
  },
  { cookie_names: strings('Cookies that carry the token.', []) },
  {
    run_on_preflight: {
      type: 'boolean',
      default: true,
      required: true,
      description: "Gate mode: also check `OPTIONS` requests, as Kong's `jwt` plugin does.",
    },
  },
  {
    upstream_headers: {
      type: 'string',
      default: 'sidecar',
      one_of: ['sidecar', 'backstop'],
      required: true,
      description:
        "Gate mode: who clears the client's identity headers and sets ours. `sidecar`: the gate, with one more call to Kong. `backstop`: the route's backstop post-function, from the credential the gate hands Kong, one call fewer per request; it needs the backstop that knows this form (a route whose backstop does not answers 503).",
    },
  },
  {
    verify_consumer: {
      type: 'boolean',
      default: true,
      required: true,
      description: 'Endpoint mode: the consumer headers must name the consumer Kong authenticated.',
    },
  },
  {
    required_scopes: strings(
      'Scopes the token must carry (its `scope` claim, space-delimited, or `scp`, a string or an array); a token without them is refused with 403 `AUTH_013`. Empty: no scope is required.',
      [],
    ),
  },
  {
    scopes_match: {
      type: 'string',
      default: 'all',
      one_of: ['all', 'any'],
      required: true,
      description: '`all`: the token must carry every one of `required_scopes`. `any`: at least one.',
    },
  },
  {
    check_revocation: {
      type: 'boolean',
      default: true,
      required: true,
      description:
        'Gate and endpoint mode: refuse revoked tokens (401 `AUTH_011` `revoked`), checked in memory. Without Redis, revocations are those of this process.',
    },
  },
  {
    revocation_unavailable: {
      type: 'string',
      default: 'allow',
      one_of: ['allow', 'deny'],
      required: true,
      description:
        'While the revocation list is not known to be complete (Redis unreachable): `allow` admits tokens not known to be revoked (counted in `kong_auth_revocation_unchecked_total`), `deny` answers 503 `AUTH_018`.',
    },
  },
  {
    token_types: strings(
      "When not empty, the token header's `typ` must be one of these (case-insensitive, with or without `application/`, e.g. `at+jwt` for RFC 9068 access tokens); any other, or none, is refused with `AUTH_011` `token_type`. Empty: any `typ`.",
      [],
    ),
  },
  {
    jwks_uri: urlField(
      "Gate mode: the JWKS URL of an identity provider (Keycloak, Auth0, Entra ID…) whose tokens the route accepts, instead of the sidecar's own. Requires `issuer`, `audience`, and `algorithms` without `HS256`.",
    ),
  },
  {
    jwks_min_cache_seconds: {
      type: 'integer',
      default: 300,
      between: [1, 86400],
      required: true,
      description:
        'With `jwks_uri`: the shortest time a fetched key set is kept, whatever its `Cache-Control` says (and without `max-age`), in seconds.',
    },
  },
  {
    jwks_max_cache_seconds: {
      type: 'integer',
      default: 3600,
      between: [1, 604800],
      required: true,
      description:
        'With `jwks_uri`: the longest cache lifetime a fetched key set gets, whatever its `Cache-Control` says, in seconds; not below `jwks_min_cache_seconds`. The set is fetched again in the background at 3/4 of its lifetime; while those fetches fail it stays in use for up to `jwks_max_stale_seconds` more.',
    },
  },
  {
    jwks_max_stale_seconds: {
      type: 'integer',
      default: 3600,
      between: [0, 604800],
      required: true,
      description:
        'With `jwks_uri`: while the provider cannot be fetched (down, an error status, not a JWKS), how long past its cache lifetime the last good key set is still used, in seconds; then the route answers 503 `AUTH_004` until a fetch succeeds. A JWKS the provider does publish replaces the set at once, even when it has no usable key.',
    },
  },
  {
    jwks_refetch_cooldown_seconds: {
      type: 'integer',
      default: 30,
      between: [1, 3600],
      required: true,
      description:
        'With `jwks_uri`: a token whose `kid` the set lacks (or whose signature fails under it) fetches the set again at most once in this many seconds.',
    },
  },
  {
    jwks_max_wait_ms: {
      type: 'integer',
      default: 500,
      between: [0, 10000],
      required: true,
      description:
        'With `jwks_uri`: the longest a request waits for a fetch of the key set (only when there is none yet, or for a refetch), in ms; then 503 `AUTH_004` without a set.',
    },
  },
] as const satisfies readonly SchemaField[];

const REMOTE: ConditionalCheck['conditional']['if_match'] = { required: true };
/** With `jwks_uri`: a gate, pinned to one issuer and audience, and no HS256 (a public key set has no shared secret). */
const ENTITY_CHECKS: readonly ConditionalCheck<FieldName<typeof Schema>>[] = [
  { conditional: { if_field: 'jwks_uri', if_match: REMOTE, then_field: 'mode', then_match: { one_of: ['gate'] } } },
  { conditional: { if_field: 'jwks_uri', if_match: REMOTE, then_field: 'issuer', then_match: { required: true } } },
  { conditional: { if_field: 'jwks_uri', if_match: REMOTE, then_field: 'audience', then_match: { len_min: 1 } } },
  {
    conditional: {
      if_field: 'jwks_uri',
      if_match: REMOTE,
      then_field: 'algorithms',
      then_match: { elements: { type: 'string', one_of: REMOTE_ALGORITHMS } },
    },
  },
];

/**
 * 1000: after every Kong authentication plugin (hmac-auth 1030 is the lowest), so endpoint and
 * introspection modes find the consumer Kong authenticated; before acl (950) and rate-limiting (910),
 * so they see the consumer the gate authenticated, as after Kong's jwt plugin.
 */
export const description: PluginDescription = {
  Name: 'token-validator',
  Version: VERSION,
  Priority: 1000,
  Phases: ['access'],
  Schema,
  EntityChecks: ENTITY_CHECKS,
};

type ValidatorConfig = PluginConfig<typeof Schema>;

const isoSeconds = (seconds: unknown) => (typeof seconds === 'number' ? new Date(seconds * 1000).toISOString() : null);

/** The validation outcome a refusal counts as, when it is about the token itself. */
const VALIDATION_REFUSALS: Partial<Record<AuthCode, ValidationResult>> = { AUTH_010: 'expired', AUTH_011: 'invalid' };

/** 403 AUTH_013 unless the verified token carries the route's required scopes (RFC 6750 §3.1). */
function requireScopes(conf: ValidatorConfig, claims: JWTPayload): void {
  if (hasScopes(scopesOf(claims), conf.required_scopes, conf.scopes_match)) return;
  throw new AuthError('AUTH_013', undefined, { extensions: { requiredScopes: conf.required_scopes, scopesMatch: conf.scopes_match } });
}

export function tokenValidator(ctx: PluginContext): PluginModule {
  const PHASE: PhaseOptions = {
    plugin: 'token-validator',
    action: 'token-validate',
    challenge: bearerChallenge,
    count(refusal) {
      const result = !refusal ? 'valid' : refusal.extensions?.reason === 'revoked' ? 'revoked' : VALIDATION_REFUSALS[refusal.code];
      if (result) ctx.metrics.tokenValidated(result);
    },
  };
  // Introspection answers every refusal as an OAuth error (RFC 7662 §2.3), also the earliest ones.
  const INTROSPECTION_PHASE: PhaseOptions = { plugin: 'token-validator', action: 'token-introspect', oauth: () => true, count() {} };

  // One warn line per outage, however many tokens it admits; the store logs the outage itself.
  let admittingUnchecked = false;

  /**
   * 401 AUTH_011 revoked (RFC 6750 invalid_token) for a revoked token, from the in-memory list: no I/O.
   * While the list is not known to be complete (the shared store lost its subscription), `allow` admits
   * a token not known to be revoked, counted and logged once per outage; `deny` answers 503 AUTH_018.
   */
  function refuseRevoked(conf: ValidatorConfig, claims: JWTPayload, consumerId: string): void {
    if (!conf.check_revocation) return;
    if (ctx.revocations.isRevoked(claims, consumerId))
      throw new AuthError('AUTH_011', 'The token has been revoked', { status: 401, extensions: { reason: 'revoked' } });
    if (ctx.revocations.isCurrent()) {
      admittingUnchecked = false;
      return;
    }
    if (conf.revocation_unavailable === 'deny') throw new AuthError('AUTH_018', undefined, { retryAfterSeconds: 5 });
    ctx.metrics.revocationUnchecked();
    if (!admittingUnchecked)
      ctx.log.warn(
        { 'event.action': 'revocation-unchecked' },
        'admitting tokens not known to be revoked while the revocation list may be incomplete (revocation_unavailable: allow)',
      );
    admittingUnchecked = true;
  }

  /** Endpoint mode keeps the contract of the HTTP token service it replaces: Bearer token + Kong's consumer headers for the same consumer. */
  async function answer(kong: Kong, conf: ValidatorConfig, state: PhaseState, token: string): Promise<string> {
    const claimed = readConsumerHeaders(state.headers);
    if (conf.verify_consumer) await authenticatedConsumer(kong, claimed);
    const claims = await verifiedTokenOf(ctx, token, claimed.consumerId, conf, state.trace);
    refuseRevoked(conf, claims, claimed.consumerId);
    requireScopes(conf, claims);
    const body = {
      valid: true,
      tokenId: claims.jti,
      subject: claims.sub,
      issuer: claims.iss,
      audience: claims.aud,
      issuedAt: isoSeconds(claims.iat),
      expiresAt: isoSeconds(claims.exp),
      expiresIn: Math.max(0, Number(claims.exp) - Math.floor(Date.now() / 1000)),
      // Only when the token has scopes; JSON leaves an undefined field out.
      scope: scopesOf(claims).join(' ') || undefined,
    };
    await exitWith(kong, 200, JSON.stringify(body), jsonNoStoreHeaders(state.requestId));
    return claimed.consumerId;
  }

  /**
   * Introspection (RFC 7662): the claims of an active token, or exactly `{"active":false}` for every token
   * that is not (expired, revoked, invalid, malformed, unknown) — never an error status for those. Only a
   * failure to decide (the Admin API unavailable) is an error, answered as OAuth's temporarily_unavailable.
   */
  async function introspect(kong: Kong, conf: ValidatorConfig, state: PhaseState): Promise<string> {
    const caller = readConsumerHeaders(state.headers);
    await authenticatedConsumer(kong, caller);
    const form = await readForm(kong, state.headers);
    const token = form.get('token');
    if (token === undefined || token === '')
      throw new AuthError('AUTH_015', 'The token parameter is required', { extensions: { reason: 'missing_parameter' } });
    const body = await activeTokenBody(conf, state, token);
    ctx.metrics.tokenIntrospected(body !== undefined);
    await exitWith(kong, 200, JSON.stringify(body ?? { active: false }), jsonNoStoreHeaders(state.requestId));
    return caller.consumerId;
  }

  /** The RFC 7662 §2.2 answer for a token this validator would admit, or undefined when it would not. */
  async function activeTokenBody(conf: ValidatorConfig, state: PhaseState, token: string): Promise<Record<string, unknown> | undefined> {
    try {
      const { claims, consumerId } = await verifiedToken(ctx, token, conf, state.trace);
      refuseRevoked(conf, claims, consumerId);
      const consumer = await ctx.credentials.consumer(consumerId, state.trace);
      return {
        active: true,
        scope: scopesOf(claims).join(' ') || undefined,
        client_id: consumer.id,
        username: consumer.username ?? consumer.custom_id ?? undefined,
        token_type: 'Bearer',
        exp: claims.exp,
        iat: claims.iat,
        nbf: claims.nbf,
        sub: claims.sub,
        aud: claims.aud,
        iss: claims.iss,
        jti: claims.jti,
      };
    } catch (err) {
      // A refusal about the token itself means "not active"; a dependency that could not answer does not.
      if (err instanceof AuthError && err.status < 500) return undefined;
      throw err;
    }
  }

  /**
   * Gate mode: the consumer comes from the verified token, never from headers: an HS256 token's key claim
   * names its credential and so its consumer; a token of the key set names it by `client_id`, read through
   * the consumer cache (memory, Redis, the Admin API, stale copies), so a consumer Kong no longer knows is
   * refused (401 AUTH_002). Kong learns it as with its jwt plugin. `sidecar`: the upstream headers are
   * cleared and set first and the backstop's mark comes last, so a gate that dies in between leaves an
   * unmarked request (503), never client identity headers upstream. `backstop`: the credential carries the
   * headers instead of the mark, and the backstop clears and sets them in Kong, in the same phase.
   */
  async function admit(kong: Kong, conf: ValidatorConfig, state: PhaseState, token: string): Promise<string> {
    const { claims, consumerId, credential } = await verifiedToken(ctx, token, conf, state.trace);
    refuseRevoked(conf, claims, consumerId);
    requireScopes(conf, claims);
    const consumer = await ctx.credentials.consumer(consumerId, state.trace);
    const ours = identityHeaders(state.headers, consumer, claims, state.requestId);
    await handOver(kong, conf, state, ours, consumer, { id: credential.id, key: credential.key, consumer: { id: consumer.id } });
    return consumer.id;
  }

  /**
   * The upstream headers and the backstop's mark, last. The credential carries the mark: one round trip
   * fewer than a kong.ctx.shared entry. `sidecar`: the headers are set first; `backstop`: the mark is the
   * headers, which the backstop clears and sets in Kong.
   */
  async function handOver(
    kong: Kong,
    conf: ValidatorConfig,
    state: PhaseState,
    ours: Record<string, string>,
    consumer: KongConsumer | null,
    credential: Record<string, unknown>,
  ): Promise<void> {
    if (conf.upstream_headers === 'sidecar') await kong.service.request.setHeaders(gateHeaders(state.headers, ours));
    const mark = conf.upstream_headers === 'sidecar' ? { [GATE_MARK]: true } : { [HEADERS_MARK]: ours };
    await kong.client.authenticate(consumer, { ...credential, ...mark });
  }

  /**
   * Gate mode with `jwks_uri`: a token of a remote identity provider, verified with its key set. It names
   * no Kong consumer, so Kong is told a credential only (`sub`) and the upstream gets it in
   * X-Credential-Identifier; revocation is the provider's (the token-revocation routes revoke our tokens).
   */
  async function admitRemote(kong: Kong, conf: ValidatorConfig, state: PhaseState, token: string, keys: RemoteKeySource): Promise<string> {
    const { payload: claims } = await ctx.verifier.verifyWithRemoteKeys(token, conf, keys, state.trace);
    const unfit = unfitHeaderClaim(claims);
    if (unfit !== undefined) throw invalidToken('malformed', `The token's "${unfit}" claim cannot be passed upstream`);
    requireScopes(conf, claims);
    const subject = claims.sub as string;
    await handOver(kong, conf, state, remoteIdentityHeaders(state.headers, claims, state.requestId), null, { id: subject });
    return subject;
  }

  /** A preflight let through unchecked (run_on_preflight off) still carries no client identity headers upstream. */
  async function passPreflight(kong: Kong, state: PhaseState): Promise<undefined> {
    await kong.service.request.setHeaders(clearedIdentityHeaders(state.headers));
    await kong.ctx.shared.set(GATE_MARK, 'preflight');
    return undefined;
  }

  /**
   * The provider's key set for a route with `jwks_uri`, its first fetch started now (when Kong starts the
   * instance), with the route's wait budget. A cache range Kong's schema cannot refuse (min above max)
   * makes the instance refuse to start: one error line, and Kong answers the route's requests with 500.
   */
  function remoteKeys(conf: ValidatorConfig): RemoteKeySource | undefined {
    if (conf.jwks_uri === undefined) return undefined;
    if (conf.jwks_min_cache_seconds > conf.jwks_max_cache_seconds) {
      const problem = `jwks_min_cache_seconds (${conf.jwks_min_cache_seconds}) is above jwks_max_cache_seconds (${conf.jwks_max_cache_seconds})`;
      ctx.log.error(
        { 'event.action': 'plugin-config-invalid', 'kong.plugin': 'token-validator' },
        `token-validator not started: ${problem}`,
      );
      throw new Error(`token-validator config refused: ${problem}`);
    }
    const jwks = ctx.remoteJwks.forOptions({
      uri: conf.jwks_uri,
      minCacheSeconds: conf.jwks_min_cache_seconds,
      maxCacheSeconds: conf.jwks_max_cache_seconds,
      cooldownSeconds: conf.jwks_refetch_cooldown_seconds,
      maxStaleSeconds: conf.jwks_max_stale_seconds,
    });
    const waitMs = conf.jwks_max_wait_ms;
    return { keys: () => jwks.keys(waitMs), refetch: () => jwks.refetch(waitMs) };
  }

  class Plugin {
    private readonly conf: ValidatorConfig;
    private readonly phase: PhaseOptions;
    private readonly remote: RemoteKeySource | undefined;

    constructor(config: Record<string, unknown>) {
      this.conf = withDefaults(Schema, config);
      this.phase = this.conf.mode === 'introspection' ? INTROSPECTION_PHASE : PHASE;
      this.remote = this.conf.mode === 'gate' ? remoteKeys(this.conf) : undefined;
    }

    access(kong: Kong): Promise<void> {
      return runAccessPhase(kong, ctx, this.phase, async (state) => {
        const conf = this.conf;
        if (conf.mode === 'introspection')
          return { message: 'token introspected', fields: { 'user.id': await introspect(kong, conf, state) } };
        if (conf.mode === 'gate' && !conf.run_on_preflight && (await kong.request.getMethod()) === 'OPTIONS')
          return passPreflight(kong, state);
        const query = conf.uri_param_names.length > 0 ? ((await kong.request.getQuery()) as Record<string, string[]>) : {};
        const token = findToken(state.headers, query ?? {}, conf);
        const remote = this.remote;
        const consumerId = remote
          ? await admitRemote(kong, conf, state, token, remote)
          : conf.mode === 'gate'
            ? await admit(kong, conf, state, token)
            : await answer(kong, conf, state, token);
        return { message: 'token valid', fields: { 'user.id': consumerId } };
      });
    }
  }
  return { ...description, Plugin };
}
