import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { JWT_ALGORITHMS, type JwtAlgorithm } from './kong-yml.js';
import {
  KongStoreConflictError,
  isUuid,
  type KongStore,
  type NewJwtCredential,
  type StoredConsumer,
  type StoredJwtCredential,
} from './kong-store.js';

/**
 * A fake Kong Admin API (Kong 3.x) over real HTTP on 127.0.0.1, answering with
 * Kong's own JSON shapes for the endpoints the sidecar uses. Shapes follow
 * kong/api/endpoints.lua, kong/db/errors.lua and kong/plugins/jwt/daos.lua.
 */

export type FakeAdminApiMode = 'API_GATEWAY' | 'KONNECT';

export type Fault =
  /** Every incoming connection is destroyed before an answer, like a dead host. */
  | { kind: 'down' }
  | { kind: 'status'; status: 500 | 502 | 503 | 429; retryAfterSeconds?: number }
  /** The correct answer, after delayMs. */
  | { kind: 'slow'; delayMs: number }
  /**
   * Like an Admin API whose database pool is exhausted: each answer takes delayMs, and a request that
   * arrives while `capacity` requests are being answered gets Kong's 500 at once.
   */
  | { kind: 'overloaded'; capacity: number; delayMs: number };

export interface RecordedRequest {
  method: string;
  /** As sent, with the query string. */
  path: string;
  headers: IncomingHttpHeaders;
}

export interface FakeAdminApiOptions {
  store: KongStore;
  /** API_GATEWAY: required as Kong-Admin-Token when set. KONNECT: the Bearer token (one is generated when omitted). */
  adminToken?: string;
  mode?: FakeAdminApiMode;
  /** Page size when a list request has no `size`; Kong's is 100. */
  pageSize?: number;
}

export interface FakeAdminApi {
  /** API_GATEWAY: `http://127.0.0.1:PORT`. KONNECT: `http://127.0.0.1:PORT/v2/control-planes/<id>`. */
  readonly url: string;
  readonly mode: FakeAdminApiMode;
  /** KONNECT only. */
  readonly controlPlaneId: string | undefined;
  readonly adminToken: string | undefined;
  /** Every request that reached HTTP parsing, in arrival order (the 'down' fault reads none). */
  readonly requests: RecordedRequest[];
  /** Connections destroyed by the 'down' fault. */
  readonly droppedConnections: number;
  setFault(fault: Fault | undefined): void;
  close(): Promise<void>;
}

const KONG_VERSION = '3.9.1';
const KONG_DEFAULT_PAGE_SIZE = 100;
const KONG_MAX_PAGE_SIZE = 1000;

export async function startFakeAdminApi(opts: FakeAdminApiOptions): Promise<FakeAdminApi> {
  const mode = opts.mode ?? 'API_GATEWAY';
  const defaultPageSize = opts.pageSize ?? KONG_DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(defaultPageSize) || defaultPageSize < 1 || defaultPageSize > KONG_MAX_PAGE_SIZE) {
    throw new RangeError(`pageSize must be an integer between 1 and ${KONG_MAX_PAGE_SIZE}`);
  }
  const controlPlaneId = mode === 'KONNECT' ? randomUUID() : undefined;
  const adminToken = mode === 'KONNECT' ? (opts.adminToken ?? `kpat_${randomBytes(24).toString('hex')}`) : opts.adminToken;
  const api: AdminApi = {
    store: opts.store,
    mode,
    defaultPageSize,
    adminToken,
    basePath: controlPlaneId ? `/v2/control-planes/${controlPlaneId}/core-entities` : '',
  };

  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const pendingTimers = new Set<NodeJS.Timeout>();
  let fault: Fault | undefined;
  let droppedConnections = 0;
  let answering = 0;

  const server = createServer((req, res) => {
    const faultNow = fault;
    if (faultNow?.kind === 'down') {
      droppedConnections++;
      req.socket.destroy();
      return;
    }
    requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', headers: { ...req.headers } });
    answering++;
    res.once('close', () => answering--);
    const overloaded = faultNow?.kind === 'overloaded' && answering > faultNow.capacity;
    void respond(api, req, res, overloaded ? { kind: 'status', status: 500 } : faultNow, pendingTimers);
  });
  server.on('connection', (socket) => {
    if (fault?.kind === 'down') {
      droppedConnections++;
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  let closing: Promise<void> | undefined;
  const closeServer = (): Promise<void> => {
    for (const timer of pendingTimers) clearTimeout(timer);
    pendingTimers.clear();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    for (const socket of sockets) socket.destroy();
    return closed;
  };
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;

  return {
    url: controlPlaneId ? `${origin}/v2/control-planes/${controlPlaneId}` : origin,
    mode,
    controlPlaneId,
    adminToken,
    requests,
    get droppedConnections() {
      return droppedConnections;
    },
    setFault(next) {
      fault = next;
      // A host that goes down also drops the keep-alive connections clients hold to it.
      if (next?.kind === 'down') for (const socket of sockets) socket.destroy();
    },
    close() {
      closing ??= closeServer();
      return closing;
    },
  };
}

interface AdminApi {
  store: KongStore;
  mode: FakeAdminApiMode;
  defaultPageSize: number;
  adminToken: string | undefined;
  /** '' for Kong; `/v2/control-planes/<id>/core-entities` for Konnect. */
  basePath: string;
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

interface ParsedRequest {
  method: string;
  /** Path segments after the base path, raw (still percent-encoded). */
  rawSegments: string[];
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  contentType: string | undefined;
  body: Buffer;
}

async function respond(
  api: AdminApi,
  req: IncomingMessage,
  res: ServerResponse,
  fault: Fault | undefined,
  pendingTimers: Set<NodeJS.Timeout>,
): Promise<void> {
  const startedAt = performance.now();
  let body: Buffer;
  try {
    body = await readBody(req);
  } catch {
    return; // the client went away mid-request
  }
  if (fault?.kind === 'slow' || fault?.kind === 'overloaded') await delay(fault.delayMs, res, pendingTimers);
  if (res.destroyed) return;
  send(res, fault?.kind === 'status' ? faultReply(fault) : handleSafely(api, parseRequest(req, body)), startedAt);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Resolves after ms, or as soon as the client or close() ends the exchange; the timer never holds the process open. */
function delay(ms: number, res: ServerResponse, pendingTimers: Set<NodeJS.Timeout>): Promise<void> {
  return new Promise((resolve) => {
    const finish = (): void => {
      clearTimeout(timer);
      pendingTimers.delete(timer);
      res.off('close', finish);
      resolve();
    };
    const timer = setTimeout(finish, ms);
    timer.unref();
    pendingTimers.add(timer);
    res.on('close', finish);
  });
}

function parseRequest(req: IncomingMessage, body: Buffer): ParsedRequest {
  const url = new URL(req.url ?? '/', 'http://fake-admin-api');
  return {
    method: req.method ?? 'GET',
    rawSegments: url.pathname.split('/').slice(1),
    query: url.searchParams,
    headers: req.headers,
    contentType: req.headers['content-type']?.toLowerCase(),
    body,
  };
}

function send(res: ServerResponse, reply: Reply, startedAt: number): void {
  const payload = reply.body === undefined ? '' : JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    ...(payload === '' ? {} : { 'Content-Type': 'application/json; charset=utf-8' }),
    'Content-Length': Buffer.byteLength(payload),
    'Access-Control-Allow-Origin': '*',
    'X-Kong-Admin-Request-ID': randomBytes(16).toString('hex'),
    'X-Kong-Admin-Latency': String(Math.round(performance.now() - startedAt)),
    Server: `kong/${KONG_VERSION}`,
    ...reply.headers,
  });
  res.end(payload);
}

// ---- faults, auth, routing -------------------------------------------------

/** Bodies Kong (kong/tools/http.lua defaults) and its rate-limiting plugin answer with. */
const FAULT_MESSAGES: Record<500 | 502 | 503 | 429, string> = {
  500: 'An unexpected error occurred',
  502: 'Bad gateway',
  503: 'Service unavailable',
  429: 'API rate limit exceeded',
};

function faultReply(fault: Extract<Fault, { kind: 'status' }>): Reply {
  return {
    status: fault.status,
    body: { message: FAULT_MESSAGES[fault.status] },
    headers: fault.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(fault.retryAfterSeconds) },
  };
}

/** A bug in a handler answers like Kong's handle_error would rather than killing the test process. */
function handleSafely(api: AdminApi, request: ParsedRequest): Reply {
  try {
    return handle(api, request);
  } catch (err) {
    console.error('fake Admin API handler failed:', err);
    return { status: 500, body: { message: 'An unexpected error occurred' } };
  }
}

function handle(api: AdminApi, request: ParsedRequest): Reply {
  const denied = checkCredentials(api, request.headers);
  if (denied) return denied;
  const segments = segmentsUnderBase(api, request.rawSegments);
  if (segments === undefined) return notFound();
  return route(api, request, segments);
}

function checkCredentials(api: AdminApi, headers: IncomingHttpHeaders): Reply | undefined {
  if (api.adminToken === undefined) return undefined;
  if (api.mode === 'KONNECT') {
    // Konnect's documented 401 for core entities (HTTP401Error / GatewayUnauthorizedError).
    return headers.authorization === `Bearer ${api.adminToken}`
      ? undefined
      : { status: 401, body: { message: 'Unauthorized', status: 401 } };
  }
  const token = headers['kong-admin-token'];
  if (token === undefined) return { status: 401, body: { message: 'Invalid credentials. Token or User credentials required' } };
  return token === api.adminToken ? undefined : { status: 401, body: { message: 'Invalid RBAC credentials' } };
}

/** Strips the Konnect prefix and one trailing slash (Kong's default_route retries without it). */
function segmentsUnderBase(api: AdminApi, rawSegments: string[]): string[] | undefined {
  const base = api.basePath.split('/').slice(1);
  if (base.some((segment, i) => rawSegments[i] !== segment)) return undefined;
  const segments = rawSegments.slice(base.length);
  if (segments.length > 1 && segments[segments.length - 1] === '') segments.pop();
  return segments;
}

type Handler = (api: AdminApi, request: ParsedRequest, params: string[]) => Reply;

interface Route {
  /** Literal segments, or ':' for a path parameter. */
  pattern: string[];
  methods: Partial<Record<string, Handler>>;
}

const ROUTES: Route[] = [
  { pattern: ['consumers'], methods: { GET: listConsumers } },
  { pattern: ['consumers', ':'], methods: { GET: getConsumer } },
  { pattern: ['consumers', ':', 'jwt'], methods: { GET: listJwtCredentials, POST: createJwtCredential } },
  { pattern: ['consumers', ':', 'jwt', ':'], methods: { GET: getConsumersJwtCredential } },
  { pattern: ['jwts', ':'], methods: { GET: getJwtCredential } },
];

function route(api: AdminApi, request: ParsedRequest, segments: string[]): Reply {
  for (const candidate of ROUTES) {
    const params = match(candidate.pattern, segments);
    if (params === undefined) continue;
    const handler = candidate.methods[request.method];
    return handler ? handler(api, request, params) : { status: 405, body: { message: 'Method not allowed' } };
  }
  return notFound();
}

/** Raw (percent-encoded) parameters, or undefined when the path has another shape. */
function match(pattern: string[], segments: string[]): string[] | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: string[] = [];
  for (const [i, expected] of pattern.entries()) {
    const segment = segments[i] ?? '';
    if (expected === ':') {
      if (segment === '') return undefined;
      params.push(segment);
    } else if (segment !== expected) {
      return undefined;
    }
  }
  return params;
}

function decodeParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

// ---- handlers ------------------------------------------------------------

function getConsumer(api: AdminApi, _request: ParsedRequest, [consumerParam = '']: string[]): Reply {
  const consumer = api.store.consumerByIdOrUsername(decodeParam(consumerParam));
  return consumer ? ok(consumerJson(consumer)) : notFound();
}

function getJwtCredential(api: AdminApi, _request: ParsedRequest, [credentialParam = '']: string[]): Reply {
  const credential = api.store.jwtCredentialByKeyOrId(decodeParam(credentialParam));
  return credential ? ok(jwtCredentialJson(credential)) : notFound();
}

function getConsumersJwtCredential(api: AdminApi, _request: ParsedRequest, [consumerParam = '', credentialParam = '']: string[]): Reply {
  const consumer = api.store.consumerByIdOrUsername(decodeParam(consumerParam));
  const credential = consumer && api.store.jwtCredentialByKeyOrId(decodeParam(credentialParam));
  return credential && credential.consumerId === consumer?.id ? ok(jwtCredentialJson(credential)) : notFound();
}

/** The first page of consumers, ordered by id; what a health probe asks for with size=1. */
function listConsumers(api: AdminApi, request: ParsedRequest): Reply {
  const size = pageSize(api, request.query.get('size'));
  if (typeof size !== 'number') return size;
  const all = api.store.consumers().sort((a, b) => compare(a.id, b.id));
  const data = all.slice(0, size).map(consumerJson);
  const last = data.length < all.length ? all[size - 1] : undefined;
  if (!last) return ok(api.mode === 'KONNECT' ? { data } : { data, next: null });
  const offset = encodeOffset(last.id);
  return ok(api.mode === 'KONNECT' ? { data, offset } : { data, offset, next: `/consumers?offset=${encodeURIComponent(offset)}` });
}

function listJwtCredentials(api: AdminApi, request: ParsedRequest, [consumerParam = '']: string[]): Reply {
  const consumer = api.store.consumerByIdOrUsername(decodeParam(consumerParam));
  if (!consumer) return notFound();
  const size = pageSize(api, request.query.get('size'));
  if (typeof size !== 'number') return size;
  const offset = request.query.get('offset');
  const after = offset === null || offset === '' ? undefined : decodeOffset(offset);
  if (after !== undefined && typeof after !== 'string') return after;

  // Kong's Postgres strategy pages `ORDER BY id`: the order has nothing to do with created_at.
  const remaining = api.store
    .jwtCredentialsOf(consumer.id)
    .sort((a, b) => compare(a.id, b.id))
    .filter((credential) => after === undefined || credential.id > after);
  const page = remaining.slice(0, size);
  const last = page[page.length - 1];
  const nextOffset = remaining.length > size && last ? encodeOffset(last.id) : undefined;
  const data = page.map(jwtCredentialJson);

  if (api.mode === 'KONNECT') return ok(nextOffset === undefined ? { data } : { data, offset: nextOffset });
  // Kong's nested `next` carries neither size nor tags (endpoints.lua), and uses the consumer as the client wrote it.
  const next = nextOffset === undefined ? null : `/consumers/${consumerParam}/jwt?offset=${encodeURIComponent(nextOffset)}`;
  return ok(nextOffset === undefined ? { data, next } : { data, offset: nextOffset, next });
}

function createJwtCredential(api: AdminApi, request: ParsedRequest, [consumerParam = '']: string[]): Reply {
  const consumer = api.store.consumerByIdOrUsername(decodeParam(consumerParam));
  if (!consumer) return notFound();
  const args = parseBody(request);
  if ('status' in args) return args;
  const input = validateJwtCredentialInput(args.fields);
  if ('status' in input) return input;
  try {
    return { status: 201, body: jwtCredentialJson(api.store.addJwtCredential(consumer.id, input)) };
  } catch (err) {
    if (err instanceof KongStoreConflictError) return conflictReply(err);
    throw err;
  }
}

// ---- JSON shapes ---------------------------------------------------------

function consumerJson(consumer: StoredConsumer): Record<string, unknown> {
  return {
    id: consumer.id,
    username: consumer.username,
    custom_id: consumer.custom_id,
    created_at: consumer.created_at,
    updated_at: consumer.updated_at,
    tags: consumer.tags,
  };
}

function jwtCredentialJson(credential: StoredJwtCredential): Record<string, unknown> {
  return {
    id: credential.id,
    consumer: { id: credential.consumerId },
    key: credential.key,
    secret: credential.secret,
    algorithm: credential.algorithm,
    rsa_public_key: credential.rsa_public_key,
    created_at: credential.created_at,
    tags: credential.tags,
  };
}

function ok(body: unknown): Reply {
  return { status: 200, body };
}

function notFound(): Reply {
  return { status: 404, body: { message: 'Not found' } };
}

/** Kong's err_t as handle_error serialises it: code, name, message, and fields when the error has them. */
function daoError(status: number, code: number, name: string, message: string, fields?: Record<string, unknown>): Reply {
  return { status, body: fields === undefined ? { code, name, message } : { code, name, message, fields } };
}

function conflictReply(err: KongStoreConflictError): Reply {
  // Penlight's pretty.write({field = value}, "") renders the key as {field="value"}.
  const rendered = `{${err.field}=${JSON.stringify(err.value)}}`;
  if (err.constraint === 'primary_key') {
    return daoError(400, 3, 'primary key violation', `primary key violation on key '${rendered}'`, { [err.field]: err.value });
  }
  return daoError(409, 5, 'unique constraint violation', `UNIQUE violation detected on '${rendered}'`, { [err.field]: err.value });
}

// ---- pagination ----------------------------------------------------------

function pageSize(api: AdminApi, raw: string | null): number | Reply {
  if (raw === null) return api.defaultPageSize;
  const size = raw.trim() === '' ? NaN : Number(raw);
  if (Number.isNaN(size)) return daoError(400, 9, 'invalid size', 'size must be a number');
  if (!Number.isInteger(size) || size < 1 || size > KONG_MAX_PAGE_SIZE) {
    return daoError(400, 9, 'invalid size', `size must be an integer between 1 and ${KONG_MAX_PAGE_SIZE}`);
  }
  return size;
}

/** Kong's Postgres offset: unpadded base64 of the JSON array of the last row's primary key. */
function encodeOffset(lastId: string): string {
  return Buffer.from(JSON.stringify([lastId]))
    .toString('base64')
    .replace(/=+$/, '');
}

function decodeOffset(offset: string): string | Reply {
  const invalid = (why: string): Reply => daoError(400, 7, 'invalid offset', `'${offset}' is not a valid offset: ${why}`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(offset)) return invalid('bad base64 encoding');
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(offset, 'base64').toString('utf8'));
  } catch {
    return invalid('bad json encoding');
  }
  if (!Array.isArray(decoded) || typeof decoded[0] !== 'string') return invalid('bad json encoding');
  return decoded[0];
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---- request bodies --------------------------------------------------------

function parseBody(request: ParsedRequest): { fields: Record<string, unknown> } | Reply {
  const { contentType, body } = request;
  if (contentType?.startsWith('application/json')) {
    if (body.length === 0) return { fields: {} };
    try {
      const parsed: unknown = JSON.parse(body.toString('utf8'));
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return { fields: parsed as Record<string, unknown> };
    } catch {
      // answered below, like Kong's parse_params
    }
    return { status: 400, body: { message: 'Cannot parse JSON body' } };
  }
  if (contentType?.startsWith('application/x-www-form-urlencoded')) return { fields: formFields(body.toString('utf8')) };
  if (contentType === undefined && body.length === 0) return { fields: {} };
  // Kong also takes multipart/form-data; nothing here sends it, so it is refused like any other type.
  return { status: 415 };
}

function formFields(text: string): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [name, value] of new URLSearchParams(text)) {
    const key = name.endsWith('[]') ? name.slice(0, -2) : name;
    const previous = fields[key];
    if (key === 'tags' || name.endsWith('[]')) fields[key] = [...(Array.isArray(previous) ? previous : []), value];
    else fields[key] = key === 'created_at' && /^\d+$/.test(value) ? Number(value) : value;
  }
  return fields;
}

const JWT_CREDENTIAL_FIELDS = new Set(['id', 'created_at', 'consumer', 'key', 'secret', 'rsa_public_key', 'algorithm', 'tags']);
const ALGORITHMS_NEEDING_PUBLIC_KEY = new Set<JwtAlgorithm>(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA']);

/** The checks the jwt_secrets schema makes on insert, with Kong's messages (kong/db/schema/init.lua). */
function validateJwtCredentialInput(fields: Record<string, unknown>): NewJwtCredential | Reply {
  const problems: Record<string, unknown> = {};
  const input: NewJwtCredential = {};
  for (const name of Object.keys(fields)) {
    if (!JWT_CREDENTIAL_FIELDS.has(name)) problems[name] = 'unknown field';
  }
  const stringField = (name: 'key' | 'secret' | 'rsa_public_key'): void => {
    const value = fields[name];
    if (value === undefined || value === null) return;
    if (typeof value !== 'string') problems[name] = 'expected a string';
    else if (value === '') problems[name] = 'length must be at least 1';
    else input[name] = value;
  };
  stringField('key');
  stringField('secret');
  stringField('rsa_public_key');

  const { id, created_at: createdAt, algorithm, tags } = fields;
  if (id !== undefined && id !== null) {
    if (typeof id === 'string' && isUuid(id)) input.id = id;
    else problems['id'] = 'expected a valid UUID';
  }
  if (createdAt !== undefined && createdAt !== null) {
    if (typeof createdAt === 'number' && Number.isInteger(createdAt)) input.created_at = createdAt;
    else problems['created_at'] = 'expected an integer';
  }
  if (algorithm !== undefined && algorithm !== null) {
    if ((JWT_ALGORITHMS as readonly unknown[]).includes(algorithm)) input.algorithm = algorithm as JwtAlgorithm;
    else problems['algorithm'] = `expected one of: ${JWT_ALGORITHMS.join(', ')}`;
  }
  if (tags !== undefined && tags !== null) {
    if (Array.isArray(tags) && tags.every((tag) => typeof tag === 'string')) input.tags = tags as string[];
    else problems['tags'] = 'expected a set';
  }
  if (
    ALGORITHMS_NEEDING_PUBLIC_KEY.has(input.algorithm ?? 'HS256') &&
    input.rsa_public_key === undefined &&
    problems['rsa_public_key'] === undefined
  ) {
    problems['rsa_public_key'] = 'required field missing';
    problems['@entity'] = ["failed conditional validation given value of field 'algorithm'"];
  }
  return Object.keys(problems).length === 0 ? input : schemaViolation(problems);
}

/** kong/db/errors.lua schema_violation: entity errors first, then fields in sorted order. */
function schemaViolation(problems: Record<string, unknown>): Reply {
  const entityErrors = (problems['@entity'] as string[] | undefined) ?? [];
  const fieldErrors = Object.keys(problems)
    .filter((name) => name !== '@entity')
    .sort()
    .map((name) => `${name}: ${String(problems[name])}`);
  const all = [...entityErrors, ...fieldErrors];
  const message = all.length === 1 ? `schema violation (${all[0]})` : `${all.length} schema violations (${all.join('; ')})`;
  return daoError(400, 2, 'schema violation', message, problems);
}
