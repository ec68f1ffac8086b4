import type { KongRequest } from './kong-request.js';

/**
 * The PDK functions Kong runs on a plugin server's behalf (kong/pdk/*.lua), against one request's
 * state. A function that raises in Kong is modelled by throwing KongRaised: Kong then ends the
 * request with a 500 and abandons the event.
 */
export class KongRaised extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KongRaised';
  }
}

/** The typed Step RPC Kong answers each PDK method with (kong/runloop/plugin_servers). */
export function stepMethodFor(pdkMethod: string): string {
  switch (pdkMethod) {
    case 'kong.request.get_headers':
    case 'kong.request.get_query':
    case 'kong.response.get_headers':
    case 'kong.service.response.get_headers':
      return 'plugin.StepMultiMap';
    case 'kong.client.get_consumer':
    case 'kong.client.load_consumer':
      return 'plugin.StepConsumer';
    case 'kong.client.get_credential':
    case 'kong.client.authenticate':
      return 'plugin.StepCredential';
    case 'kong.router.get_route':
      return 'plugin.StepRoute';
    case 'kong.router.get_service':
      return 'plugin.StepService';
    case 'kong.node.get_memory_stats':
      return 'plugin.StepMemoryStats';
    default:
      return 'plugin.Step';
  }
}

/** Methods that end the plugin's coroutine: Kong never sends another Step for the event. */
export const CONVERSATION_ENDERS = new Set(['kong.response.exit', 'kong.response.error']);

type PdkFunction = (req: KongRequest, args: unknown[]) => unknown;

const LOG_LEVELS = ['debug', 'info', 'notice', 'warn', 'err', 'crit', 'alert', 'emerg'];

/** ngx.req.get_headers(): at most `limit` header lines (Kong's default 100), the rest dropped silently. */
function headerMap(headers: Map<string, string[]>, limit = 100): Record<string, string[]> {
  const map: Record<string, string[]> = {};
  let lines = 0;
  for (const [name, values] of headers) {
    const kept = values.slice(0, limit - lines);
    if (kept.length === 0) break;
    map[name] = kept;
    lines += kept.length;
  }
  return map;
}

function requireString(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new KongRaised(`${what} must be a string`);
  return value;
}

/**
 * kong/pdk/private/checks.lua validate_header: a string, number or boolean (sent through tostring), or an
 * array of strings; anything else raises. send() then turns "" into " ".
 */
function headerValues(name: string, value: unknown): string[] {
  if (Array.isArray(value)) {
    for (const v of value)
      if (typeof v !== 'string') throw new KongRaised(`invalid header value in array "${name}": got ${luaType(v)}, expected string`);
    return (value as string[]).map(normalizeHeaderValue);
  }
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return [normalizeHeaderValue(String(value))];
  throw new KongRaised(`invalid header value for "${name}": got ${luaType(value)}, expected array of string, string, number or boolean`);
}

function normalizeHeaderValue(value: string): string {
  return value === '' ? ' ' : value;
}

function luaType(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'object') return 'table';
  return typeof value;
}

function headerTable(value: unknown, what: string): Record<string, string[]> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new KongRaised(`${what} must be a nil or table`);
  const out: Record<string, string[]> = {};
  for (const [name, v] of Object.entries(value)) out[name] = headerValues(name, v);
  return out;
}

/** Lua's cjson: nil fields vanish, an empty table is an object, "/" is escaped. */
export function cjsonEncode(value: unknown): string {
  const luaify = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.length === 0 ? {} : v.map(luaify);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(
        Object.entries(v)
          .filter(([, x]) => x !== null && x !== undefined)
          .map(([k, x]) => [k, luaify(x)]),
      );
    }
    return v;
  };
  return JSON.stringify(luaify(value)).replace(/\//g, '\\/');
}

/**
 * kong.response.exit (kong/pdk/response.lua): records the response; the caller stops the plugin chain.
 * A table body is cjson-encoded with Content-Type application/json; a string body gets no Content-Type.
 */
export function exit(req: KongRequest, [status, body, headers]: unknown[]): void {
  if (typeof status !== 'number' || !Number.isInteger(status)) throw new KongRaised('code must be a number');
  if (status < 100 || status > 599) throw new KongRaised('code must be a number between 100 and 599');
  const response: Record<string, string> = {};
  for (const [name, values] of Object.entries(headerTable(headers, 'headers'))) response[name.toLowerCase()] = values.join(', ');
  let text = '';
  if (typeof body === 'string') text = body;
  else if (body instanceof Uint8Array) text = Buffer.from(body).toString('utf8');
  else if (body !== null && body !== undefined) {
    if (typeof body !== 'object') throw new KongRaised('body must be a nil, string or table');
    text = cjsonEncode(body);
    response['content-type'] ??= 'application/json; charset=utf-8';
  }
  req.response = { status, headers: response, body: text, source: 'exit' };
}

/** kong.response.error's JSON body (kong/tools/http.lua's error template): the message and Kong's request id. */
export function errorBody(req: KongRequest, message: string): string {
  return `{\n  "message":"${message}",\n  "request_id":"${req.kongRequestId}"\n}`;
}

/** kong.response.error (kong/pdk/response.lua) for a JSON client: Kong's error template instead of the caller's table. */
export function error(req: KongRequest, status: number, message: string, headers: Record<string, string> = {}): void {
  const response: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  for (const [name, value] of Object.entries(headers)) response[name.toLowerCase()] = value;
  req.response = { status, headers: response, body: errorBody(req, message), source: 'exit' };
}

/** nginx keeps a body up to client_body_buffer_size (Kong's default 8k) in memory and spools a bigger one to a file. */
const CLIENT_BODY_BUFFER_SIZE = 8192;

/**
 * kong/pdk/request.lua get_raw_body: a spooled body is read only up to max_allowed_file_size; beyond
 * that (or without it) the PDK answers nil, err, which the bridge's fix_raw cannot pack: the request fails.
 */
function rawBody(req: KongRequest, maxAllowedFileSize: unknown): Buffer {
  const spooled = req.body.length > CLIENT_BODY_BUFFER_SIZE;
  const max = typeof maxAllowedFileSize === 'number' ? maxAllowedFileSize : undefined;
  if (spooled && (max === undefined || max < 0 || (max > 0 && req.body.length > max)))
    throw new KongRaised("bad argument #2 to 'packers.binary' (string expected, got nil)");
  return Buffer.from(req.body);
}

export const PDK_FUNCTIONS: Record<string, PdkFunction> = {
  'kong.request.get_headers': (req) => headerMap(req.headers),
  'kong.request.get_header': (req, [name]) => req.header(requireString(name, 'header name')),
  'kong.request.get_path': (req) => req.path,
  'kong.request.get_method': (req) => req.method,
  'kong.request.get_raw_query': (req) => req.rawQuery,
  'kong.request.get_query': (req) => Object.fromEntries(req.query()),
  'kong.request.get_raw_body': (req, [maxAllowedFileSize]) => rawBody(req, maxAllowedFileSize),
  'kong.request.get_query_arg': (req, [name]) => req.query().get(requireString(name, 'query argument name'))?.[0],
  'kong.client.get_consumer': (req) => req.consumer,
  'kong.client.get_credential': (req) => req.credential,
  'kong.client.authenticate': (req, [consumer, credential]) => {
    if (!consumer && !credential) throw new KongRaised('either credential or consumer must be provided');
    req.authenticate(consumer as KongRequest['consumer'], credential as Record<string, unknown> | undefined);
    return undefined;
  },
  'kong.nginx.get_var': (req, [name]) => (requireString(name, 'variable name') === 'kong_request_id' ? req.kongRequestId : undefined),
  'kong.ctx.shared.get': (req, [key]) => req.ctxShared.get(requireString(key, 'key')),
  'kong.ctx.shared.set': (req, [key, value]) => {
    req.ctxShared.set(requireString(key, 'key'), value);
    return undefined;
  },
  'kong.service.request.set_header': (req, [name, value]) => {
    req.setHeader(requireString(name, 'header name'), headerValues(String(name), value));
    return undefined;
  },
  'kong.service.request.set_headers': (req, [headers]) => {
    // ngx.req.set_header with an empty table removes the header.
    for (const [name, values] of Object.entries(headerTable(headers, 'headers')))
      values.length === 0 ? req.clearHeader(name) : req.setHeader(name, values);
    return undefined;
  },
  'kong.service.request.clear_header': (req, [name]) => {
    req.clearHeader(requireString(name, 'header name'));
    return undefined;
  },
  ...Object.fromEntries(
    LOG_LEVELS.map((level) => [`kong.log.${level}`, (req: KongRequest, args: unknown[]) => req.kongLog(level, args.map(String).join(''))]),
  ),
};
