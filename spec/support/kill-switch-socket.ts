import { createServer, connect, type Server, type Socket } from 'node:net';
import { Decoder } from '@msgpack/msgpack';

const decoder = new Decoder();

/** The PDK method a plugin server's reply asks Kong to run (`[1, msgid, error, {EventId, Data: {Method}}]`). */
function pdkMethodOf(message: unknown): string | undefined {
  if (!Array.isArray(message) || message[0] !== 1) return undefined;
  const data = (message[3] as { Data?: { Method?: unknown } } | null)?.Data;
  return typeof data?.Method === 'string' ? data.Method : undefined;
}

/**
 * A socket between Kong and the plugin server that passes everything through until Kong has run the
 * first PDK call `trigger` matches; then, instead of handing Kong's answer over, it drops every
 * connection and calls `die` (which kills the server): the plugin server dying at that exact point.
 */
export class KillSwitchSocket {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private armed = false;
  private dying = false;
  /** The PDK calls the server asked Kong for, in order. */
  readonly pdkCalls: string[] = [];
  /** Resolves once the switch has fired. */
  readonly fired: Promise<void>;
  private fire!: () => void;

  constructor(
    readonly path: string,
    private readonly target: string,
    private readonly trigger: (pdkMethod: string) => boolean,
    private readonly die: () => Promise<void>,
  ) {
    this.fired = new Promise((resolve) => (this.fire = resolve));
    this.server = createServer((kong) => this.pair(kong));
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.path, () => resolve());
    });
  }

  private pair(kong: Socket): void {
    const plugin = connect(this.target);
    this.sockets.add(kong).add(plugin);
    let pending = Buffer.alloc(0);
    plugin.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      try {
        for (const message of decoder.decodeMulti(pending)) {
          const method = pdkMethodOf(message);
          if (method === undefined) continue;
          this.pdkCalls.push(method);
          if (this.trigger(method)) this.armed = true;
        }
        pending = Buffer.alloc(0);
      } catch (err) {
        if (!(err instanceof RangeError)) throw err;
      }
      kong.write(chunk);
    });
    kong.on('data', (chunk: Buffer) => {
      if (!this.armed) return void plugin.write(chunk);
      // Kong ran the call and answers it: the server dies before it can read the answer.
      for (const socket of this.sockets) socket.destroy();
      if (this.dying) return;
      this.dying = true;
      void this.die().then(this.fire);
    });
    for (const socket of [kong, plugin]) {
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.sockets.delete(socket);
        (socket === kong ? plugin : kong).destroy();
      });
    }
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
