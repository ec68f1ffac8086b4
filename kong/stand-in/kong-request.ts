import { randomUUID } from 'node:crypto';

/** A consumer row as Kong's PDK hands it to plugins (kong.client.get_consumer). */
export interface KongConsumer {
  id: string;
  username?: string | null;
  custom_id?: string | null;
  created_at?: number;
  tags?: string[] | null;
}

export interface KongResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Who produced it: a plugin's exit, Kong itself (errors), or the upstream. */
  source: 'exit' | 'error' | 'upstream';
}

/**
 * The state of one request inside Kong: nginx's request headers (which kong.service.request.*
 * modifies and kong.request.get_headers reads), ngx.ctx (authenticated consumer/credential,
 * kong.ctx.shared), Kong's log, and the response once a plugin exits.
 */
export class KongRequest {
  readonly headers = new Map<string, string[]>();
  readonly ctxShared = new Map<string, unknown>();
  readonly log: Array<{ level: string; message: string }> = [];
  readonly kongRequestId = randomUUID().replace(/-/g, '');
  consumer: KongConsumer | undefined;
  credential: Record<string, unknown> | undefined;
  response: KongResponse | undefined;
  /** The request body as nginx read it. */
  body: Uint8Array = new Uint8Array(0);

  constructor(
    readonly method: string,
    readonly path: string,
    readonly rawQuery: string,
    headers: Record<string, string | string[]>,
  ) {
    for (const [name, value] of Object.entries(headers)) this.headers.set(name.toLowerCase(), Array.isArray(value) ? [...value] : [value]);
  }

  static fromUrl(method: string, url: string, headers: Record<string, string | string[]> = {}): KongRequest {
    const at = url.indexOf('?');
    return new KongRequest(method.toUpperCase(), at === -1 ? url : url.slice(0, at), at === -1 ? '' : url.slice(at + 1), headers);
  }

  header(name: string): string | undefined {
    return this.headers.get(name.toLowerCase())?.[0];
  }

  setHeader(name: string, value: string | string[]): void {
    this.headers.set(name.toLowerCase(), Array.isArray(value) ? [...value] : [value]);
  }

  clearHeader(name: string): void {
    this.headers.delete(name.toLowerCase());
  }

  query(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const [name, value] of new URLSearchParams(this.rawQuery)) out.set(name, [...(out.get(name) ?? []), value]);
    return out;
  }

  cookie(name: string): string | undefined {
    for (const part of (this.header('cookie') ?? '').split(';')) {
      const [key, ...rest] = part.trim().split('=');
      if (key === name) return rest.join('=');
    }
    return undefined;
  }

  /** Kong's kong.client.authenticate / an auth plugin's set_consumer. */
  authenticate(consumer: KongConsumer | undefined, credential: Record<string, unknown> | undefined): void {
    this.consumer = consumer;
    this.credential = credential;
  }

  kongLog(level: string, message: string): void {
    this.log.push({ level, message });
  }
}
