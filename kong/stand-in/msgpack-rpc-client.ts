import { connect, type Socket } from 'node:net';
import { Decoder, Encoder } from '@msgpack/msgpack';

/**
 * Kong's side of MessagePack-RPC (kong/runloop/plugin_servers/rpc/mp_rpc.lua): every call takes a
 * connection from a keep-alive pool (opening one when none is idle), sends ONE request and reads until
 * the response carrying its msgid, then returns the connection to the pool. Never pipelines.
 * By default a MessagePack implementation other than the server's, as Kong's Lua one is (the bench driver
 * passes msgpackr, for speed).
 */
export class RpcError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RpcError';
  }
}

const encoder = new Encoder({ ignoreUndefined: false });
const decoder = new Decoder();

/** How messages become bytes and back; tests keep the default, a codec other than the server's. */
export interface RpcCodec {
  encode(message: unknown[]): Uint8Array;
  /** The whole messages in `bytes`, or none while the last one is incomplete. */
  completeMessages(bytes: Buffer): unknown[];
}

/** One response per call is the rule, so one decode is the fast path. */
const defaultCodec: RpcCodec = {
  encode: (message) => encoder.encode(message),
  completeMessages(bytes) {
    try {
      return [decoder.decode(bytes)];
    } catch (err) {
      if (!(err instanceof RangeError)) throw err;
    }
    try {
      return [...decoder.decodeMulti(bytes)];
    } catch (err) {
      if (err instanceof RangeError) return [];
      throw err;
    }
  },
};

interface Waiter {
  msgid: number;
  resolve(response: unknown[]): void;
  reject(err: Error): void;
}

/** A connection for tests that write bytes themselves: every byte the server sends is kept. */
export interface RawConnection {
  socket: Socket;
  /** The first `count` whole messages the server sent; rejects when it closes the connection before. */
  messages(count: number): Promise<unknown[]>;
}

/** One pooled connection: bytes of a response still arriving, and the call waiting for it. */
interface Connection {
  socket: Socket;
  buffered?: Buffer;
  waiter?: Waiter;
}

export class MsgpackRpcClient {
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private msgid = 0;
  /** The most connections open at once, as Kong's per-worker pool would have had. */
  peakConnections = 0;

  // Kong sets lua_socket_pool_size = 256 (kong_defaults.lua).
  constructor(
    readonly socketPath: string,
    private readonly poolSize = 256,
    private readonly codec: RpcCodec = defaultCodec,
  ) {}

  async call<T = unknown>(method: string, ...params: unknown[]): Promise<T> {
    const connection = this.idle.pop() ?? (await this.connect());
    const msgid = ++this.msgid;
    const response = await this.exchange(connection, this.codec.encode([0, msgid, method, params]), msgid);
    if (this.idle.length < this.poolSize && !connection.socket.destroyed) this.idle.push(connection);
    else connection.socket.destroy();
    const [, , error, result] = response;
    if (error !== null && error !== undefined) throw new RpcError(String(error));
    return result as T;
  }

  /** Writes raw bytes on a fresh connection and reports whether the server closed it. */
  async sendRaw(bytes: Uint8Array, waitMs = 200): Promise<{ closedByServer: boolean }> {
    const socket = await this.open();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        socket.destroy();
        resolve({ closedByServer: false });
      }, waitMs);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve({ closedByServer: true });
      });
      socket.write(bytes);
    });
  }

  close(): void {
    for (const connection of this.all) connection.socket.destroy();
    this.all.clear();
    this.idle.length = 0;
  }

  /** A raw connection of the pool's kind, for tests that write bytes themselves. */
  async open(): Promise<Socket> {
    return (await this.connect()).socket;
  }

  /** open(), keeping what the server sends until the test asks for it. */
  async openRaw(): Promise<RawConnection> {
    const socket = await this.open();
    const received: Buffer[] = [];
    let closed = false;
    let check: (() => void) | undefined;
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      check?.();
    });
    socket.on('close', () => {
      closed = true;
      check?.();
    });
    return {
      socket,
      messages: (count) =>
        new Promise((resolve, reject) => {
          check = () => {
            let messages: unknown[];
            try {
              messages = this.codec.completeMessages(Buffer.concat(received));
            } catch (err) {
              return reject(new RpcError(`undecodable bytes from the server: ${(err as Error).message}`));
            }
            if (messages.length >= count) resolve(messages.slice(0, count));
            else if (closed) reject(new RpcError(`the server closed the connection after ${messages.length} of ${count} messages`));
          };
          check();
        }),
    };
  }

  private connect(): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect(this.socketPath);
      const connection: Connection = { socket };
      socket.once('connect', () => {
        socket.off('error', reject);
        socket.on('error', () => socket.destroy());
        socket.on('data', (chunk: Buffer) => this.received(connection, chunk));
        socket.on('close', () => {
          this.all.delete(connection);
          const at = this.idle.indexOf(connection);
          if (at !== -1) this.idle.splice(at, 1);
          const waiter = connection.waiter;
          connection.waiter = undefined;
          waiter?.reject(new RpcError('connection closed before the response'));
        });
        this.all.add(connection);
        this.peakConnections = Math.max(this.peakConnections, this.all.size);
        resolve(connection);
      });
      socket.once('error', (err) => reject(new RpcError(`could not connect to ${this.socketPath}: ${err.message}`)));
    });
  }

  private exchange(connection: Connection, request: Uint8Array, msgid: number): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      connection.buffered = undefined;
      connection.waiter = { msgid, resolve, reject };
      connection.socket.write(request);
    });
  }

  private received(connection: Connection, chunk: Buffer): void {
    const waiter = connection.waiter;
    if (!waiter) return; // bytes nobody asked for (tests writing raw bytes read them themselves)
    const bytes = connection.buffered ? Buffer.concat([connection.buffered, chunk]) : chunk;
    let messages: unknown[];
    try {
      messages = this.codec.completeMessages(bytes);
    } catch (err) {
      connection.waiter = undefined;
      waiter.reject(new RpcError(`undecodable response: ${(err as Error).message}`));
      return;
    }
    if (messages.length === 0) {
      connection.buffered = bytes; // incomplete: wait for more bytes
      return;
    }
    connection.buffered = undefined;
    const response = messages.find((m) => Array.isArray(m) && m[0] === 1 && m[1] === waiter.msgid);
    if (response) {
      connection.waiter = undefined;
      waiter.resolve(response as unknown[]);
    }
  }
}
