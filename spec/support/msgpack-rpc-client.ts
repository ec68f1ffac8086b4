import { connect, type Socket } from 'node:net';
import { Decoder, Encoder } from '@msgpack/msgpack';

/**
 * Kong's side of MessagePack-RPC (kong/runloop/plugin_servers/rpc/mp_rpc.lua): every call takes a
 * connection from a keep-alive pool (opening one when none is idle), sends ONE request and reads until
 * the response carrying its msgid, then returns the connection to the pool. Never pipelines.
 * Deliberately a different MessagePack implementation from the server's, as Kong's Lua one is.
 */
export class RpcError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RpcError';
  }
}

const encoder = new Encoder({ ignoreUndefined: false });

export class MsgpackRpcClient {
  private readonly idle: Socket[] = [];
  private readonly all = new Set<Socket>();
  private msgid = 0;
  /** The most connections open at once, as Kong's per-worker pool would have had. */
  peakConnections = 0;

  // Kong sets lua_socket_pool_size = 256 (kong_defaults.lua).
  constructor(readonly socketPath: string, private readonly poolSize = 256) {}

  async call<T = unknown>(method: string, ...params: unknown[]): Promise<T> {
    const socket = this.idle.pop() ?? (await this.open());
    const msgid = ++this.msgid;
    const response = await this.exchange(socket, encoder.encode([0, msgid, method, params]), msgid);
    if (this.idle.length < this.poolSize && !socket.destroyed) this.idle.push(socket);
    else socket.destroy();
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
    for (const socket of this.all) socket.destroy();
    this.all.clear();
    this.idle.length = 0;
  }

  /** A raw connection of the pool's kind, for tests that write bytes themselves. */
  open(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect(this.socketPath);
      socket.once('connect', () => {
        socket.off('error', reject);
        socket.on('error', () => socket.destroy());
        socket.on('close', () => {
          this.all.delete(socket);
          const at = this.idle.indexOf(socket);
          if (at !== -1) this.idle.splice(at, 1);
        });
        this.all.add(socket);
        this.peakConnections = Math.max(this.peakConnections, this.all.size);
        resolve(socket);
      });
      socket.once('error', (err) => reject(new RpcError(`could not connect to ${this.socketPath}: ${err.message}`)));
    });
  }

  private exchange(socket: Socket, request: Uint8Array, msgid: number): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      const decoder = new Decoder();
      let buffered = Buffer.alloc(0);
      const cleanup = () => {
        socket.off('data', onData);
        socket.off('close', onClose);
      };
      const onClose = () => {
        cleanup();
        reject(new RpcError('connection closed before the response'));
      };
      const onData = (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        let messages: unknown[];
        try {
          messages = [...decoder.decodeMulti(buffered)];
        } catch (err) {
          if (err instanceof RangeError) return; // incomplete: wait for more bytes
          cleanup();
          reject(new RpcError(`undecodable response: ${(err as Error).message}`));
          return;
        }
        for (const message of messages) {
          if (Array.isArray(message) && message[0] === 1 && message[1] === msgid) {
            cleanup();
            resolve(message);
            return;
          }
        }
        buffered = Buffer.alloc(0);
      };
      socket.on('data', onData);
      socket.once('close', onClose);
      socket.write(request);
    });
  }
}
