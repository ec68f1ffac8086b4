import type { Logger } from './logger.js';

/** A Kong `jwt_secrets` credential as the Admin API returns it. */
export interface JwtCredential {
  id: string;
  key: string;
  secret: string;
  algorithm?: string | null;
  created_at: number;
  consumer: { id: string } | null;
}

interface Page<T> {
  data: T[];
  next: string | null;
}

/** The Admin API could not answer (network, timeout, 5xx, 429, auth misconfiguration). Never "not found". */
export class AdminApiUnavailableError extends Error {
  constructor(message: string, readonly status?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AdminApiUnavailableError';
  }
}

/** 409 on create: the generated key is taken. */
export class AdminApiConflictError extends Error {
  constructor() {
    super('credential key already exists');
    this.name = 'AdminApiConflictError';
  }
}

export interface AdminClient {
  /** All of a consumer's jwt credentials (every page), or undefined when Kong does not know the consumer. */
  listJwtCredentials(consumerId: string): Promise<JwtCredential[] | undefined>;
  /** Creates a credential; undefined when the consumer does not exist. */
  createJwtCredential(consumerId: string, body: { key: string; secret: string; algorithm: 'HS256' }): Promise<JwtCredential | undefined>;
}

/** Kong pages lists; this bounds a misbehaving `next` chain. */
const MAX_PAGES = 100;

export function createAdminClient(opts: { baseUrl: string; adminToken?: string; timeoutMs: number; log: Logger }): AdminClient {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.adminToken) headers['kong-admin-token'] = opts.adminToken;

  async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Response | undefined> {
    let res: Response;
    try {
      res = await fetch(opts.baseUrl + path, {
        method,
        headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
    } catch (err) {
      throw new AdminApiUnavailableError(`${method} ${pathOnly(path)} failed: ${describeFetchError(err)}`, undefined, { cause: err });
    }
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (res.status === 409) {
      await res.body?.cancel();
      throw new AdminApiConflictError();
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new AdminApiUnavailableError(`${method} ${pathOnly(path)} answered ${res.status}`, res.status);
    }
    return res;
  }

  async function json<T>(res: Response, what: string): Promise<T> {
    try {
      return (await res.json()) as T;
    } catch (err) {
      throw new AdminApiUnavailableError(`${what}: the Admin API answered a body that is not JSON`, res.status, { cause: err });
    }
  }

  return {
    async listJwtCredentials(consumerId) {
      const all: JwtCredential[] = [];
      let path: string | null = `/consumers/${encodeURIComponent(consumerId)}/jwt`;
      for (let page = 0; path !== null; page++) {
        if (page === MAX_PAGES) throw new AdminApiUnavailableError(`jwt credential list exceeds ${MAX_PAGES} pages`);
        const res = await call('GET', path);
        if (res === undefined) return undefined;
        const body = await json<Page<JwtCredential>>(res, 'jwt credential list');
        if (!Array.isArray(body.data)) throw new AdminApiUnavailableError('jwt credential list has no data array');
        all.push(...body.data);
        path = typeof body.next === 'string' && body.next.startsWith('/') ? body.next : null;
      }
      return all;
    },

    async createJwtCredential(consumerId, body) {
      const res = await call('POST', `/consumers/${encodeURIComponent(consumerId)}/jwt`, body);
      return res === undefined ? undefined : json<JwtCredential>(res, 'created jwt credential');
    },
  };
}

/** Query strings carry pagination offsets only, but keep log lines to the path. */
function pathOnly(path: string): string {
  return path.split('?')[0] ?? path;
}

function describeFetchError(err: unknown): string {
  if (err instanceof DOMException && err.name === 'TimeoutError') return 'timed out';
  const cause = err instanceof Error ? (err.cause as { code?: string } | undefined) : undefined;
  return cause?.code ?? (err instanceof Error ? err.message : String(err));
}
