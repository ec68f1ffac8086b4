import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';

/** Algorithms Kong 3.x's `jwt_secrets.algorithm` accepts (kong/plugins/jwt/daos.lua). */
export const JWT_ALGORITHMS = [
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
  'EdDSA',
] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

const SERVICE_PROTOCOLS = ['grpc', 'grpcs', 'http', 'https', 'tcp', 'tls', 'tls_passthrough', 'udp', 'ws', 'wss'] as const;

/** Unknown keys are kept (`[key: string]: unknown`) so fixtures may carry fields these types don't model. */
export interface KongPlugin {
  name: string;
  id?: string;
  config?: Record<string, unknown>;
  enabled?: boolean;
  [key: string]: unknown;
}

export interface KongRoute {
  name?: string;
  id?: string;
  paths?: string[];
  methods?: string[];
  hosts?: string[];
  protocols?: string[];
  strip_path?: boolean;
  /** Only on top-level routes: the service they belong to, by name or id. */
  service?: string | { name?: string; id?: string };
  plugins: KongPlugin[];
  [key: string]: unknown;
}

export interface KongService {
  name?: string;
  id?: string;
  url?: string;
  host?: string;
  port?: number;
  protocol?: string;
  path?: string;
  routes: KongRoute[];
  plugins: KongPlugin[];
  [key: string]: unknown;
}

export interface KongKeyAuthCredential {
  key: string;
  id?: string;
  tags?: string[];
  [key: string]: unknown;
}

export interface KongJwtSecret {
  key: string;
  secret: string;
  algorithm?: JwtAlgorithm;
  id?: string;
  rsa_public_key?: string;
  tags?: string[];
  [key: string]: unknown;
}

/** A basic-auth credential as decK declares it: the password in clear, which Kong stores salted and hashed. */
export interface KongBasicAuthCredential {
  username: string;
  password: string;
  id?: string;
  tags?: string[];
  [key: string]: unknown;
}

/** A consumer's membership of an acl group (Kong's `acls` entity). */
export interface KongAcl {
  group: string;
  id?: string;
  tags?: string[];
  [key: string]: unknown;
}

export interface KongConsumer {
  id?: string;
  username?: string;
  custom_id?: string;
  tags?: string[];
  keyauth_credentials: KongKeyAuthCredential[];
  basicauth_credentials: KongBasicAuthCredential[];
  jwt_secrets: KongJwtSecret[];
  acls: KongAcl[];
  plugins: KongPlugin[];
  [key: string]: unknown;
}

export interface KongYml {
  _format_version: '3.0';
  services: KongService[];
  routes: KongRoute[];
  plugins: KongPlugin[];
  consumers: KongConsumer[];
  [key: string]: unknown;
}

/** A malformed declarative file; the message names the file and the offending path. */
export class KongYmlError extends Error {
  constructor(
    readonly source: string,
    readonly path: string,
    problem: string,
  ) {
    super(`${source}: ${path === '' ? '' : `${path}: `}${problem}`);
    this.name = 'KongYmlError';
  }
}

export function loadKongYml(path: string): KongYml {
  return parseKongYml(readFileSync(path, 'utf8'), path);
}

export function parseKongYml(text: string, source = 'kong.yml'): KongYml {
  const check = new Checker(source);
  const root = check.mapping(parseYaml(text, source), '');
  if (root['_format_version'] !== '3.0') {
    check.fail('_format_version', `expected "3.0", got ${JSON.stringify(root['_format_version'])}`);
  }
  const yml: KongYml = {
    ...root,
    _format_version: '3.0',
    services: check.list(root['services'], 'services', (item, at) => parseService(check, item, at)),
    routes: check.list(root['routes'], 'routes', (item, at) => parseRoute(check, item, at, true)),
    plugins: check.list(root['plugins'], 'plugins', (item, at) => parsePlugin(check, item, at)),
    consumers: check.list(root['consumers'], 'consumers', (item, at) => parseConsumer(check, item, at)),
  };
  rejectDuplicates(check, yml);
  return yml;
}

function parseYaml(text: string, source: string): unknown {
  const document = parseDocument(text, { uniqueKeys: true });
  const firstError = document.errors[0];
  if (firstError !== undefined) throw new KongYmlError(source, '', `not valid YAML: ${firstError.message}`);
  return document.toJS();
}

function parseService(check: Checker, value: unknown, at: string): KongService {
  const raw = check.entity(value, at);
  const service: KongService = {
    ...raw,
    ...check.optionalStrings(raw, at, ['name', 'id', 'url', 'host', 'protocol', 'path']),
    routes: check.list(raw['routes'], `${at}.routes`, (item, routeAt) => parseRoute(check, item, routeAt, false)),
    plugins: check.list(raw['plugins'], `${at}.plugins`, (item, pluginAt) => parsePlugin(check, item, pluginAt)),
  };
  if (service.url === undefined && service.host === undefined) check.fail(at, 'a service needs a url or a host');
  if (service.url !== undefined && !URL.canParse(service.url)) check.fail(`${at}.url`, `not a URL: ${JSON.stringify(service.url)}`);
  if (raw['port'] !== undefined) service.port = check.port(raw['port'], `${at}.port`);
  if (service.protocol !== undefined) check.oneOf(service.protocol, `${at}.protocol`, SERVICE_PROTOCOLS);
  return service;
}

function parseRoute(check: Checker, value: unknown, at: string, topLevel: boolean): KongRoute {
  const raw = check.entity(value, at);
  const route: KongRoute = {
    ...raw,
    ...check.optionalStrings(raw, at, ['name', 'id']),
    ...check.optionalStringLists(raw, at, ['paths', 'methods', 'hosts', 'protocols']),
    plugins: check.list(raw['plugins'], `${at}.plugins`, (item, pluginAt) => parsePlugin(check, item, pluginAt)),
  };
  for (const [index, path] of (route.paths ?? []).entries()) {
    if (!path.startsWith('/') && !path.startsWith('~'))
      check.fail(`${at}.paths[${index}]`, `a path must start with "/" (or "~" for a regex), got ${JSON.stringify(path)}`);
  }
  if (raw['strip_path'] !== undefined) route.strip_path = check.boolean(raw['strip_path'], `${at}.strip_path`);
  if (!['paths', 'methods', 'hosts', 'headers', 'snis', 'sources', 'destinations'].some((field) => raw[field] !== undefined)) {
    check.fail(at, 'a route needs at least one of paths, methods, hosts, headers, snis, sources, destinations');
  }
  if (raw['service'] !== undefined) {
    if (!topLevel) check.fail(`${at}.service`, 'a route nested in a service must not name a service');
    route.service = parseServiceReference(check, raw['service'], `${at}.service`);
  }
  return route;
}

function parseServiceReference(check: Checker, value: unknown, at: string): string | { name?: string; id?: string } {
  if (typeof value === 'string' && value !== '') return value;
  const raw = check.entity(value, at);
  const reference = check.optionalStrings(raw, at, ['name', 'id']);
  if (reference.name === undefined && reference.id === undefined) check.fail(at, 'expected a service name, or a mapping with name or id');
  return reference;
}

function parsePlugin(check: Checker, value: unknown, at: string): KongPlugin {
  const raw = check.entity(value, at);
  const plugin: KongPlugin = { ...raw, name: check.string(raw['name'], `${at}.name`), ...check.optionalStrings(raw, at, ['id']) };
  if (raw['config'] !== undefined) plugin.config = check.mapping(raw['config'], `${at}.config`);
  if (raw['enabled'] !== undefined) plugin.enabled = check.boolean(raw['enabled'], `${at}.enabled`);
  return plugin;
}

function parseConsumer(check: Checker, value: unknown, at: string): KongConsumer {
  const raw = check.entity(value, at);
  const consumer: KongConsumer = {
    ...raw,
    ...check.optionalStrings(raw, at, ['id', 'username', 'custom_id']),
    ...check.optionalStringLists(raw, at, ['tags']),
    keyauth_credentials: check.list(raw['keyauth_credentials'], `${at}.keyauth_credentials`, (item, credAt) =>
      parseKeyAuthCredential(check, item, credAt),
    ),
    basicauth_credentials: check.list(raw['basicauth_credentials'], `${at}.basicauth_credentials`, (item, credAt) =>
      parseBasicAuthCredential(check, item, credAt),
    ),
    jwt_secrets: check.list(raw['jwt_secrets'], `${at}.jwt_secrets`, (item, secretAt) => parseJwtSecret(check, item, secretAt)),
    acls: check.list(raw['acls'], `${at}.acls`, (item, aclAt) => parseAcl(check, item, aclAt)),
    plugins: check.list(raw['plugins'], `${at}.plugins`, (item, pluginAt) => parsePlugin(check, item, pluginAt)),
  };
  if (consumer.username === undefined && consumer.custom_id === undefined) check.fail(at, 'a consumer needs a username or a custom_id');
  if (consumer.id !== undefined) check.uuid(consumer.id, `${at}.id`);
  return consumer;
}

function parseKeyAuthCredential(check: Checker, value: unknown, at: string): KongKeyAuthCredential {
  const raw = check.entity(value, at);
  const credential: KongKeyAuthCredential = {
    ...raw,
    key: check.string(raw['key'], `${at}.key`),
    ...check.optionalStrings(raw, at, ['id']),
    ...check.optionalStringLists(raw, at, ['tags']),
  };
  if (credential.id !== undefined) check.uuid(credential.id, `${at}.id`);
  return credential;
}

function parseBasicAuthCredential(check: Checker, value: unknown, at: string): KongBasicAuthCredential {
  const raw = check.entity(value, at);
  const credential: KongBasicAuthCredential = {
    ...raw,
    username: check.string(raw['username'], `${at}.username`),
    password: check.string(raw['password'], `${at}.password`),
    ...check.optionalStrings(raw, at, ['id']),
    ...check.optionalStringLists(raw, at, ['tags']),
  };
  if (credential.id !== undefined) check.uuid(credential.id, `${at}.id`);
  return credential;
}

function parseAcl(check: Checker, value: unknown, at: string): KongAcl {
  const raw = check.entity(value, at);
  const acl: KongAcl = {
    ...raw,
    group: check.string(raw['group'], `${at}.group`),
    ...check.optionalStrings(raw, at, ['id']),
    ...check.optionalStringLists(raw, at, ['tags']),
  };
  if (acl.id !== undefined) check.uuid(acl.id, `${at}.id`);
  return acl;
}

function parseJwtSecret(check: Checker, value: unknown, at: string): KongJwtSecret {
  const raw = check.entity(value, at);
  const secret: KongJwtSecret = {
    ...raw,
    key: check.string(raw['key'], `${at}.key`),
    secret: check.string(raw['secret'], `${at}.secret`),
    ...check.optionalStrings(raw, at, ['id', 'rsa_public_key']),
    ...check.optionalStringLists(raw, at, ['tags']),
  };
  if (raw['algorithm'] !== undefined)
    secret.algorithm = check.oneOf(check.string(raw['algorithm'], `${at}.algorithm`), `${at}.algorithm`, JWT_ALGORITHMS);
  if (secret.id !== undefined) check.uuid(secret.id, `${at}.id`);
  return secret;
}

/** Kong would refuse these on import (unique constraints), so a fixture carrying them is a mistake. */
function rejectDuplicates(check: Checker, yml: KongYml): void {
  const seen = new Map<string, string>();
  const claim = (scope: string, value: string | undefined, at: string): void => {
    if (value === undefined) return;
    const first = seen.get(`${scope}\u0000${value}`);
    if (first !== undefined) check.fail(at, `duplicate ${scope} ${JSON.stringify(value)} (already used at ${first})`);
    seen.set(`${scope}\u0000${value}`, at);
  };
  for (const [index, consumer] of yml.consumers.entries()) {
    const at = `consumers[${index}]`;
    claim('consumer id', consumer.id, `${at}.id`);
    claim('username', consumer.username, `${at}.username`);
    claim('custom_id', consumer.custom_id, `${at}.custom_id`);
    consumer.keyauth_credentials.forEach((credential, i) => claim('key-auth key', credential.key, `${at}.keyauth_credentials[${i}].key`));
    consumer.basicauth_credentials.forEach((credential, i) =>
      claim('basic-auth username', credential.username, `${at}.basicauth_credentials[${i}].username`),
    );
    consumer.jwt_secrets.forEach((secret, i) => claim('jwt key', secret.key, `${at}.jwt_secrets[${i}].key`));
    consumer.acls.forEach((acl, i) => claim(`acl group of ${at}`, acl.group, `${at}.acls[${i}].group`));
  }
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Type checks that throw a KongYmlError naming the path of the offending value. */
class Checker {
  constructor(private readonly source: string) {}

  fail(path: string, problem: string): never {
    throw new KongYmlError(this.source, path, problem);
  }

  mapping(value: unknown, at: string): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(at, `expected a mapping, got ${describe(value)}`);
    return value as Record<string, unknown>;
  }

  /** An entity's mapping; decK treats `field: null` as an absent field, so those keys are dropped. */
  entity(value: unknown, at: string): Record<string, unknown> {
    return Object.fromEntries(Object.entries(this.mapping(value, at)).filter(([, field]) => field !== null));
  }

  list<T>(value: unknown, at: string, parseItem: (item: unknown, itemAt: string) => T): T[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) this.fail(at, `expected a list, got ${describe(value)}`);
    return value.map((item, index) => parseItem(item, `${at}[${index}]`));
  }

  string(value: unknown, at: string): string {
    if (value === undefined || value === null) this.fail(at, 'required field missing');
    if (typeof value !== 'string') this.fail(at, `expected a string, got ${describe(value)}`);
    if (value === '') this.fail(at, 'must not be empty');
    return value;
  }

  boolean(value: unknown, at: string): boolean {
    if (typeof value !== 'boolean') this.fail(at, `expected true or false, got ${describe(value)}`);
    return value;
  }

  port(value: unknown, at: string): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535)
      this.fail(at, `expected a port (0-65535), got ${describe(value)}`);
    return value;
  }

  uuid(value: string, at: string): void {
    if (!UUID_PATTERN.test(value)) this.fail(at, `expected a UUID, got ${JSON.stringify(value)}`);
  }

  oneOf<T extends string>(value: string, at: string, allowed: readonly T[]): T {
    if (!(allowed as readonly string[]).includes(value))
      this.fail(at, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
    return value as T;
  }

  optionalStrings<K extends string>(raw: Record<string, unknown>, at: string, keys: readonly K[]): Partial<Record<K, string>> {
    const found: Partial<Record<K, string>> = {};
    for (const key of keys) {
      if (raw[key] !== undefined) found[key] = this.string(raw[key], `${at}.${key}`);
    }
    return found;
  }

  optionalStringLists<K extends string>(raw: Record<string, unknown>, at: string, keys: readonly K[]): Partial<Record<K, string[]>> {
    const found: Partial<Record<K, string[]>> = {};
    for (const key of keys) {
      if (raw[key] !== undefined) found[key] = this.list(raw[key], `${at}.${key}`, (item, itemAt) => this.string(item, itemAt));
    }
    return found;
  }
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}
