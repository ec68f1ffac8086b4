/**
 * The part of Kong's PDK our plugins call, as they call it: `kong.request.getHeaders()` runs Kong's
 * `kong.request.get_headers` (lib/kong/pdk.ts converts the names). Every call is one round trip to Kong.
 * What Kong answers crossed a socket, so results are `unknown` until the caller has checked them.
 */
export interface Kong {
  request: {
    /** Lower-case names, each value an array of strings; at most the first 100 header lines. */
    getHeaders(): Promise<unknown>;
    getMethod(): Promise<unknown>;
    getPath(): Promise<unknown>;
    /** Each value an array of strings. */
    getQuery(): Promise<unknown>;
    /**
     * The body as MessagePack bin (a Uint8Array). A body Kong spooled to a file is read only up to
     * `maxAllowedFileSize` bytes; beyond that Kong's bridge fails the request (500), so callers check
     * Content-Length first.
     */
    getRawBody(maxAllowedFileSize?: number): Promise<unknown>;
  };
  response: {
    /** Ends the conversation: Kong sends the response and never resumes the plugin. */
    exit(status: number, body: string, headers: Record<string, string>): Promise<void>;
  };
  client: {
    getConsumer(): Promise<unknown>;
    /** nil for a consumer authenticated without a credential (an auth plugin's anonymous consumer). */
    getCredential(): Promise<unknown>;
    authenticate(consumer: object | null, credential: object | null): Promise<unknown>;
  };
  service: {
    request: {
      /** A string sets the header, an array sets every value, an empty array removes it. */
      setHeaders(headers: Record<string, string | string[]>): Promise<unknown>;
    };
  };
  ctx: { shared: { set(key: string, value: unknown): Promise<unknown> } };
  nginx: { getVar(name: string): Promise<unknown> };
}
