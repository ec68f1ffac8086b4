import { rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Decoder } from '@msgpack/msgpack';

/** What crossed a counting socket since the last reset. */
export interface Crossings {
  /** Bytes from Kong to the server and back. */
  bytesIn: number;
  bytesOut: number;
  /** Kong's RPCs (plugin.HandleEvent, plugin.StepMultiMap, …), in order. */
  rpcs: string[];
  /** The PDK calls the server's answers asked Kong to run (kong.request.get_headers, …), in order. */
  pdkCalls: string[];
}

/** One MessagePack-RPC message of a connection (Kong keeps one call in flight on each), once its bytes are in. */
class MessageReader {
  private readonly decoder = new Decoder();
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): unknown[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    try {
      const message = this.decoder.decode(this.pending);
      this.pending = Buffer.alloc(0);
      return [message];
    } catch (err) {
      if (err instanceof RangeError) return [];
      throw err;
    }
  }
}

const rpcOf = (message: unknown) => (Array.isArray(message) && message[0] === 0 ? String(message[2]) : undefined);
function pdkCallOf(message: unknown): string | undefined {
  if (!Array.isArray(message) || message[0] !== 1) return undefined;
  const method = (message[3] as { Data?: { Method?: unknown } } | null)?.Data?.Method;
  return typeof method === 'string' ? method : undefined;
}

/**
 * A socket between Kong and a server that passes every byte through and counts them in each direction:
 * with `rpc`, also Kong's MessagePack-RPC calls and the PDK calls the server asks for. Used only in the
 * counting pass, never while timing. `listen` is a Unix socket path or a TCP port on 127.0.0.1.
 */
export class CountingSocket {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  crossings: Crossings = { bytesIn: 0, bytesOut: 0, rpcs: [], pdkCalls: [] };

  constructor(
    readonly listen: string | number,
    private readonly target: string | number,
    private readonly rpc: boolean,
  ) {
    this.server = createServer((kong) => this.pair(kong));
  }

  start(): Promise<void> {
    if (typeof this.listen === 'string') rmSync(this.listen, { force: true });
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      if (typeof this.listen === 'string') this.server.listen(this.listen, resolve);
      else this.server.listen(this.listen, '127.0.0.1', resolve);
    });
  }

  reset(): void {
    this.crossings = { bytesIn: 0, bytesOut: 0, rpcs: [], pdkCalls: [] };
  }

  private pair(kong: Socket): void {
    const server = typeof this.target === 'string' ? connect(this.target) : connect(this.target, '127.0.0.1');
    const fromKong = new MessageReader();
    const fromServer = new MessageReader();
    this.sockets.add(kong).add(server);
    kong.on('data', (chunk: Buffer) => {
      this.crossings.bytesIn += chunk.length;
      if (this.rpc) for (const message of fromKong.push(chunk)) this.crossings.rpcs.push(rpcOf(message) ?? '?');
      server.write(chunk);
    });
    server.on('data', (chunk: Buffer) => {
      this.crossings.bytesOut += chunk.length;
      if (this.rpc) for (const message of fromServer.push(chunk)) this.crossings.pdkCalls.push(pdkCallOf(message) ?? 'ret');
      kong.write(chunk);
    });
    for (const socket of [kong, server]) {
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.sockets.delete(socket);
        (socket === kong ? server : kong).destroy();
      });
    }
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
