// kong-pdk ships no declaration for its PDK bridge; this is the part we use.
declare module 'kong-pdk/pdk.js' {
  import type KongPdk from 'kong-pdk/kong/index.js';
  type Kong = KongPdk.default;

  /** The channel between one event and the plugin server: PDK calls go out with put, their results come back from get. */
  export interface PdkPipe {
    put(message: unknown): void;
    get(): Promise<[result: unknown, error: unknown]>;
  }

  export default class PDK {
    constructor(pipe: PdkPipe);
    readonly kong: Kong;
  }
}
