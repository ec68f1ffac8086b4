import { createHmac, createPublicKey, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import { BACKSTOP_IDENTITY_HEADERS, BACKSTOP_LUA } from './backstop-lua.js';
import { error, exit, PDK_FUNCTIONS } from './kong-pdk.js';
import type { KongConsumer, KongRequest } from './kong-request.js';
import { basicAuthDigest, type KongStore, type StoredConsumer } from './kong-store.js';

/**
 * Kong's own Lua plugins that our routes are configured with, re-played in-process with their
 * priorities and the behaviour a plugin server can observe (headers set, consumer in context, exits).
 */
export interface BundledPlugin {
  priority: number;
  access(req: KongRequest, config: Record<string, unknown>): void;
}

function toKongConsumer(row: StoredConsumer): KongConsumer {
  return { id: row.id, username: row.username, custom_id: row.custom_id, created_at: row.created_at, tags: row.tags };
}

/**
 * kong/plugins/*\/handler.lua set_consumer: what every auth plugin tells the upstream and later plugins.
 * X-Credential-Identifier is the credential's id, or what the plugin names it by (basic-auth: its username).
 */
function setConsumer(
  req: KongRequest,
  consumer: KongConsumer,
  credential: Record<string, unknown> | undefined,
  anonymous: boolean,
  identifier = credential ? String(credential.id ?? '') : undefined,
): void {
  req.authenticate(consumer, credential);
  const set = (name: string, value: string | null | undefined) => (value ? req.setHeader(name, value) : req.clearHeader(name));
  set('X-Consumer-ID', consumer.id);
  set('X-Consumer-Custom-ID', consumer.custom_id);
  set('X-Consumer-Username', consumer.username);
  set('X-Credential-Identifier', identifier);
  set('X-Anonymous-Consumer', anonymous ? 'true' : undefined);
}

function unauthorized(req: KongRequest, message: string, challenge?: string): void {
  exit(req, [401, { message }, challenge ? { 'WWW-Authenticate': challenge } : undefined]);
}

/** Falls back to the configured anonymous consumer, as Kong's auth plugins do; false when there is none. */
function useAnonymous(req: KongRequest, store: KongStore, config: Record<string, unknown>): boolean {
  const anonymous = typeof config.anonymous === 'string' ? store.consumerByIdOrUsername(config.anonymous) : undefined;
  if (!anonymous) return false;
  setConsumer(req, toKongConsumer(anonymous), undefined, true);
  return true;
}

function keyAuth(store: KongStore): BundledPlugin {
  return {
    priority: 1250,
    access(req, config) {
      const keyNames = (config.key_names as string[] | undefined) ?? ['apikey'];
      let key: string | undefined;
      for (const name of keyNames) key ??= req.header(name) ?? req.query().get(name)?.[0];
      const consumer = key === undefined ? undefined : store.consumerByKeyAuthKey(key);
      if (consumer) {
        if (config.hide_credentials === true) for (const name of keyNames) req.clearHeader(name);
        return setConsumer(req, toKongConsumer(consumer), { id: `key-auth:${consumer.id}`, consumer: { id: consumer.id } }, false);
      }
      if (useAnonymous(req, store, config)) return;
      unauthorized(req, key === undefined ? 'No API key found in request' : 'Invalid authentication credentials', 'Key');
    },
  };
}

/** ngx.decode_base64: nil for anything that is not base64 (padding optional). */
function decodeBase64(text: string): string | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.replace(/=+$/, '').length % 4 === 1) return undefined;
  return Buffer.from(text, 'base64').toString('latin1');
}

/** basic-auth's retrieve_credentials: `Basic base64(username:password)`; the header is cleared with hide_credentials. */
function basicCredentials(
  req: KongRequest,
  header: string,
  config: Record<string, unknown>,
): { username: string; password: string } | undefined {
  const value = req.header(header);
  if (config.hide_credentials === true) req.clearHeader(header);
  const encoded = value === undefined ? undefined : /\s*[Bb]asic\s*(.+)/.exec(value)?.[1];
  const decoded = encoded === undefined ? undefined : decodeBase64(encoded);
  const parts = decoded === undefined ? undefined : /([^:]+):(.*)/.exec(decoded);
  return parts ? { username: parts[1] as string, password: parts[2] as string } : undefined;
}

/**
 * kong/plugins/basic-auth (Kong 3.10 access.lua), priority 1100: Proxy-Authorization, then Authorization;
 * the credential by username, its password checked against Kong's salted sha1; 401 with the realm's challenge.
 */
function basicAuth(store: KongStore): BundledPlugin {
  return {
    priority: 1100,
    access(req, config) {
      if (typeof config.anonymous === 'string' && req.credential) return;
      const challenge = { 'WWW-Authenticate': `Basic realm="${typeof config.realm === 'string' ? config.realm : 'service'}"` };
      const hasHeader = req.header('authorization') !== undefined || req.header('proxy-authorization') !== undefined;
      let credential: ReturnType<KongStore['basicAuthCredentialByUsername']>;
      let given: { username: string; password: string } | undefined;
      if (hasHeader) {
        given = basicCredentials(req, 'proxy-authorization', config);
        credential = given && store.basicAuthCredentialByUsername(given.username);
        if (!credential) {
          given = basicCredentials(req, 'authorization', config);
          credential = given && store.basicAuthCredentialByUsername(given.username);
        }
      }
      if (credential && given && basicAuthDigest(credential.consumerId, given.password) === credential.password) {
        const consumer = store.consumerByIdOrUsername(credential.consumerId);
        if (consumer) {
          const row = { id: credential.id, consumer: { id: consumer.id }, username: credential.username, password: credential.password };
          return setConsumer(req, toKongConsumer(consumer), row, false, credential.username);
        }
      }
      if (useAnonymous(req, store, config)) return;
      error(req, 401, 'Unauthorized', challenge);
    },
  };
}

const DEFAULT_TERMINATION_MESSAGES: Record<number, string> = { 503: 'Service unavailable', 404: 'Not found', 403: 'Forbidden' };

function requestTermination(): BundledPlugin {
  return {
    priority: 2,
    access(req, config) {
      const status = (config.status_code as number | undefined) ?? 503;
      const message = (config.message as string | undefined) ?? DEFAULT_TERMINATION_MESSAGES[status] ?? 'Request terminated';
      exit(req, [status, { message }]);
    },
  };
}

function base64url(data: string): Buffer {
  return Buffer.from(data, 'base64url');
}

/** jwt_parser.lua's alg_verify for the algorithms we sign with: the digest, and ES256's raw r‖s form (ecdsa_use_raw). */
const PUBLIC_KEY_ALGS: Record<string, { digest: string | null; raw?: true; length?: number }> = {
  RS256: { digest: 'sha256' },
  ES256: { digest: 'sha256', raw: true, length: 64 },
  EdDSA: { digest: null },
};

/** A Lua error in the plugin (jwt_parser's asserts): Kong answers 500. */
class LuaError extends Error {}

/**
 * jwt_parser.lua verify_signature: HS256 against the secret; RS256, ES256 and EdDSA against the
 * credential's rsa_public_key PEM, which openssl parses on every call (a bad PEM, or an ES256 signature
 * that is not 64 bytes, fails an assert: a Lua error, not a 401).
 */
function signatureVerifies(alg: string, input: string, signature: Buffer, secret: string): boolean {
  if (alg === 'HS256') {
    const expected = createHmac('sha256', Buffer.from(secret, 'utf8')).update(input).digest();
    return signature.length === expected.length && timingSafeEqual(signature, expected);
  }
  const form = PUBLIC_KEY_ALGS[alg];
  if (!form) return false;
  let key: KeyObject;
  try {
    key = createPublicKey(secret);
  } catch {
    throw new LuaError('Consumer Public Key is Invalid');
  }
  if (form.length !== undefined && signature.length !== form.length) throw new LuaError(`Signature must be ${form.length} bytes.`);
  try {
    return verify(form.digest, Buffer.from(input), form.raw ? { key, dsaEncoding: 'ieee-p1363' } : key, signature);
  } catch {
    return false;
  }
}

/**
 * kong/plugins/jwt: token from uri params, cookies or headers; credential by key claim; the header's alg
 * must be the credential's; HS256 with its secret, RS256, ES256 and EdDSA with its rsa_public_key; exp/nbf.
 */
function jwt(store: KongStore): BundledPlugin {
  return {
    priority: 1450,
    access(req, config) {
      const token = findToken(req, config);
      if (token === undefined) {
        if (useAnonymous(req, store, config)) return;
        return unauthorized(req, 'Unauthorized', 'Bearer');
      }
      const parts = token.split('.');
      if (parts.length !== 3) return unauthorized(req, 'Bad token; invalid serialization');
      let header: Record<string, unknown>;
      let claims: Record<string, unknown>;
      try {
        header = JSON.parse(base64url(parts[0] ?? '').toString('utf8')) as Record<string, unknown>;
        claims = JSON.parse(base64url(parts[1] ?? '').toString('utf8')) as Record<string, unknown>;
      } catch {
        return unauthorized(req, 'Bad token; invalid JSON');
      }
      const keyClaimName = (config.key_claim_name as string | undefined) ?? 'iss';
      const key = claims[keyClaimName] ?? (keyClaimName === 'iss' ? undefined : header[keyClaimName]);
      if (typeof key !== 'string' || key === '') return unauthorized(req, `No mandatory '${keyClaimName}' in claims`);
      const credential = store.jwtCredentialByKeyOrId(key);
      if (!credential || credential.key !== key) return unauthorized(req, `No credentials found for given '${keyClaimName}'`);
      if (header.alg !== credential.algorithm) return unauthorized(req, 'Invalid algorithm');
      const keyMaterial = credential.algorithm.startsWith('HS') ? credential.secret : credential.rsa_public_key;
      if (!keyMaterial) return unauthorized(req, 'Invalid key/secret');
      let verified: boolean;
      try {
        verified = signatureVerifies(credential.algorithm, `${parts[0]}.${parts[1]}`, base64url(parts[2] ?? ''), keyMaterial);
      } catch (err) {
        if (err instanceof LuaError) return error(req, 500, 'An unexpected error occurred');
        throw err;
      }
      if (!verified) return unauthorized(req, 'Invalid signature');
      const now = Math.floor(Date.now() / 1000);
      for (const claim of (config.claims_to_verify as string[] | undefined) ?? []) {
        const value = claims[claim];
        if (typeof value !== 'number') return unauthorized(req, `token ${claim} claim must be a number`);
        if (claim === 'exp' && value <= now) return unauthorized(req, 'token expired');
        if (claim === 'nbf' && value > now) return unauthorized(req, 'token not valid yet');
      }
      const consumer = store.consumerByIdOrUsername(credential.consumerId);
      if (!consumer) return unauthorized(req, `Could not find consumer for '${keyClaimName}=${key}'`);
      setConsumer(req, toKongConsumer(consumer), { id: credential.id, consumer: { id: consumer.id } }, false);
    },
  };
}

function findToken(req: KongRequest, config: Record<string, unknown>): string | undefined {
  for (const name of (config.uri_param_names as string[] | undefined) ?? ['jwt']) {
    const value = req.query().get(name)?.[0];
    if (value) return value;
  }
  for (const name of (config.cookie_names as string[] | undefined) ?? []) {
    const value = req.cookie(name);
    if (value) return value;
  }
  for (const name of (config.header_names as string[] | undefined) ?? ['authorization']) {
    const match = /^\s*Bearer\s+(.+)$/i.exec(req.header(name) ?? '');
    if (match?.[1]) return match[1].trim();
  }
  return undefined;
}

/**
 * kong/plugins/acl (Kong 3.10 handler.lua and groups.lua), priority 950: below the auth plugins, so it
 * sees the consumer they set, and above any plugin of a lower priority, which runs after it.
 */
function acl(store: KongStore): BundledPlugin {
  return {
    priority: 950,
    access(req, config) {
      const rule = aclRule(config);
      const credential = req.credential;
      const consumerId = req.consumer?.id ?? (typeof credential?.consumer_id === 'string' ? credential.consumer_id : undefined);
      // The authenticated groups another plugin left in kong.ctx.shared win over an anonymous consumer's own.
      const authenticated =
        !consumerId || !credential || config.always_use_authenticated_groups === true ? authenticatedGroups(req) : undefined;
      const noIdentity = () => (credential ? error(req, 403, 'You cannot consume this service') : error(req, 401, 'Unauthorized'));
      let groups: string[];
      let header: string;
      if (authenticated) {
        groups = authenticated;
        header = 'X-Authenticated-Groups';
      } else if (consumerId) {
        groups = store.aclGroupsOf(consumerId);
        header = 'X-Consumer-Groups';
        if (groups.length === 0 && rule.type === 'allow') return noIdentity();
      } else {
        return noIdentity();
      }
      const inGroup = rule.groups.some((group) => groups.includes(group));
      if (rule.type === 'deny' ? inGroup : !inGroup) return error(req, 403, 'You cannot consume this service');
      if (config.hide_groups_header !== true) req.setHeader(header, groups.join(', '));
    },
  };
}

/** The schema's entity checks: exactly one of allow and deny. */
function aclRule(config: Record<string, unknown>): { type: 'allow' | 'deny'; groups: string[] } {
  const allow = config.allow as string[] | undefined;
  const deny = config.deny as string[] | undefined;
  if ((allow === undefined) === (deny === undefined)) throw new Error('Kong refuses an acl config without exactly one of allow and deny');
  return deny && deny.length > 0 ? { type: 'deny', groups: deny } : { type: 'allow', groups: allow ?? [] };
}

/** groups.lua get_authenticated_groups: a table in kong.ctx.shared.authenticated_groups, else none. */
function authenticatedGroups(req: KongRequest): string[] | undefined {
  const groups = req.ctxShared.get('authenticated_groups');
  return Array.isArray(groups) ? groups.map(String) : undefined;
}

// The Lua forms the harness runs: kong.yml's fail-closed backstop behind a gate, the one-line form and
// kong/backstop.lua. The one-line form's mark is a field of the credential the gate passed to
// kong.client.authenticate, or (preflight requests) a kong.ctx.shared key.
const ONE_LINE_BACKSTOP =
  /^\s*local credential = kong\.client\.get_credential\(\) if not \(credential and credential\.(\w+) or kong\.ctx\.shared\.(\w+)\) then return kong\.response\.exit\((\d{3}), \{ message = "([^"]*)" \}\) end\s*$/;

const IDENTITY = new Set(BACKSTOP_IDENTITY_HEADERS);
/** Lua's truthiness: everything but nil and false. */
const truthy = (value: unknown) => value !== undefined && value !== null && value !== false;

/**
 * kong/backstop.lua, line by line: a credential with the gate's headers gets every identity header the
 * client sent cleared (any spelling: lower-cased, `_` read as `-`) and the gate's set; else the old mark
 * (or the preflight's kong.ctx.shared one) lets the request pass; else 503.
 */
function backstop(req: KongRequest): void {
  const credential = req.credential;
  const ours = credential?.kong_auth_sidecar_headers;
  if (truthy(ours)) {
    let lines = 0;
    for (const values of req.headers.values()) lines += values.length;
    if (lines > 1000) return exit(req, [400, { message: 'too many request headers' }]);
    for (const name of [...req.headers.keys()]) if (IDENTITY.has(name.toLowerCase().replace(/_/g, '-'))) req.clearHeader(name);
    PDK_FUNCTIONS['kong.service.request.set_headers']!(req, [ours]);
  } else if (!(truthy(credential?.kong_auth_sidecar_gate) || truthy(req.ctxShared.get('kong_auth_sidecar_gate')))) {
    return exit(req, [503, { message: 'authentication gate unavailable' }]);
  }
}

/** The one-line backstop: 503 (or the status it names) unless the credential or kong.ctx.shared has the mark. */
function oneLineBackstop(req: KongRequest, code: string): void {
  const oneLine = ONE_LINE_BACKSTOP.exec(code);
  if (!oneLine) throw new Error(`the harness only emulates the backstop post-function, not: ${code}`);
  const [, credentialFlag, sharedFlag, status, message] = oneLine;
  const marked = Boolean(req.credential?.[credentialFlag as string]) || Boolean(req.ctxShared.get(sharedFlag as string));
  if (!marked) exit(req, [Number(status), { message }]);
}

/** post-function (priority -1000): only the backstop forms above; any other Lua is refused rather than guessed at. */
function postFunction(): BundledPlugin {
  return {
    priority: -1000,
    access(req, config) {
      for (const code of (config.access as string[] | undefined) ?? []) {
        if (code === BACKSTOP_LUA) backstop(req);
        else oneLineBackstop(req, code);
        if (req.response) return;
      }
    },
  };
}

export function bundledPlugins(store: KongStore): Record<string, BundledPlugin> {
  return {
    'key-auth': keyAuth(store),
    'basic-auth': basicAuth(store),
    'request-termination': requestTermination(),
    jwt: jwt(store),
    acl: acl(store),
    'post-function': postFunction(),
  };
}
