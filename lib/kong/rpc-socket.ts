import { chmodSync, chownSync, existsSync, lstatSync, renameSync, unlinkSync } from 'node:fs';
import { connect, createServer, Socket } from 'node:net';
import { Packr, Unpackr } from 'msgpackr/pack';
import { errorMessage } from '../ops/error-message.js';
import type { Logger } from '../ops/logger.js';

/**
 * MessagePack-RPC over a Unix socket, as Kong's mp_rpc.lua speaks it: requests `[0, msgid, method, params]`,
 * responses `[1, msgid, error, result]`. Kong sends one request per connection at a time and reuses
 * connections from a keep-alive pool. Knows nothing about plugins: methods come from `dispatch`.
 */
export type Dispatch = (method: string, params: unknown[], respond: Respond) => void;
/** Answers one call, once: an error message, or the result. */
export type Respond = (error: string | null, result: unknown) => void;

/**
 * How a connection's bytes reach us. Node reads a socket into a new ArrayBuffer and pushes it through
 * a Readable stream on every read ("stream"). Its `onread` option instead reads into one buffer and
 * calls back at once, but only sockets we open can ask for it, not those a server accepts; "shared-buffer"
 * sets, on each accepted socket, the two fields that option sets (Node 20, 22 and 24 have them) and one
 * buffer serves every connection, since each read is decoded (or its unfinished tail copied) before the next.
 * Measured with make bench: ~8 µs less server CPU per issued token (78 → 70), from fewer
 * allocations and stream calls. Where a Node lacks those fields, "stream" it is.
 */
export type SocketReads = 'shared-buffer' | 'stream';

export interface RpcSocketOptions {
  /** Mode bits the socket has when it appears at its path. */
  mode: number;
  /** The group it is given (a gid), when set. */
  group?: number;
  reads?: SocketReads;
}

export interface RpcSocketServer {
  readonly path: string;
  readonly reads: SocketReads;
  /** Connections currently open (Kong keeps a pool per worker). */
  connectionCount(): number;
  /** Calls received and not yet answered, over all connections. */
  inFlightCalls(): number;
  /** No new connections; open ones keep working, since Kong sends an event's next Step on any pooled connection. */
  stopAccepting(): void;
  /** Stops accepting and ends every connection once its in-flight calls are answered. */
  close(): Promise<void>;
}

// Plain MessagePack both ways, as Kong's Lua codec speaks it: no msgpackr records or extensions,
// undefined as nil ("no error" / "no result"), integers beyond 32 bits as numbers (Lua's are doubles).
export const packr = new Packr({ useRecords: false, encodeUndefinedAsNil: true });
// copyBuffers: a binary value must not be a view of the shared read buffer, which the next read overwrites.
export const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number', copyBuffers: true });
/**
 * Kong's largest messages are tens of KB (a get_headers answer: at most 100 headers, each under 8 KB; a
 * StartInstance config). An unfinished message is decoded again from its start on each read, so this
 * bounds both that work and the bytes a connection holds.
 */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

/** The plugin socket could not be set up; the process cannot serve Kong. */
export class SocketStartError extends Error {
  override name = 'SocketStartError';
}

export class SocketInUseError extends SocketStartError {
  override name = 'SocketInUseError';

  constructor(readonly path: string) {
    super(`another plugin server is already listening on ${path}`);
  }
}

interface OnReadFields {
  buffer: symbol;
  callback: symbol;
}

/** Node's private fields behind the `onread` option, found by name on a socket of this Node. */
const ON_READ_FIELDS: OnReadFields | undefined = (() => {
  const symbols = Object.getOwnPropertySymbols(new Socket());
  const buffer = symbols.find((symbol) => symbol.description === 'kBuffer');
  const callback = symbols.find((symbol) => symbol.description === 'kBufferCb');
  return buffer && callback ? { buffer, callback } : undefined;
})();
const READ_BUFFER_BYTES = 64 * 1024;

export const DEFAULT_SOCKET_READS: SocketReads = ON_READ_FIELDS ? 'shared-buffer' : 'stream';

export async function listenRpcSocket(path: string, dispatch: Dispatch, log: Logger, options: RpcSocketOptions): Promise<RpcSocketServer> {
  await removeStaleSocket(path);
  const onRead = (options.reads ?? DEFAULT_SOCKET_READS) === 'shared-buffer' ? ON_READ_FIELDS : undefined;
  const reads: SocketReads = onRead ? 'shared-buffer' : 'stream';
  const readInto = onRead ? sharedBufferReader(onRead) : readStream;
  const connections = new Set<Connection>();
  // The socket is bound beside its path and renamed onto it once it has its group and mode: whoever
  // finds the path finds a socket with its final access, and a start that fails leaves nothing there.
  const bindingPath = `${path}.new`;
  let closed: Promise<void> | undefined;
  let published = false;
  const stopAccepting = () => {
    closed ??= new Promise<void>((resolve) =>
      server.close(() => {
        // Node removes the path it bound, which after the rename is not the socket's.
        if (published) removeIfSocket(path);
        resolve();
      }),
    );
    return closed;
  };
  // Paused until serveConnection has chosen how the socket is read.
  const server = createServer({ pauseOnConnect: true }, (socket) => {
    const connection = serveConnection(socket, dispatch, log, readInto);
    connections.add(connection);
    socket.on('close', () => connections.delete(connection));
  });
  removeIfSocket(bindingPath);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Under umask 0177 the new socket is the owner's alone until setAccess, whatever umask the process
    // was started with.
    const inherited = process.umask(0o177);
    try {
      server.listen(bindingPath, () => {
        server.off('error', reject);
        resolve();
      });
    } finally {
      process.umask(inherited);
    }
  });
  try {
    setAccess(bindingPath, path, options);
    renameSync(bindingPath, path);
    published = true;
  } catch (err) {
    await stopAccepting(); // and the bound socket file goes with it
    throw err;
  }
  server.on('error', (err) => log.error({ error: err }, 'plugin socket error'));
  return {
    path,
    reads,
    connectionCount: () => connections.size,
    inFlightCalls: () => [...connections].reduce((sum, connection) => sum + connection.inFlight(), 0),
    stopAccepting: () => void stopAccepting(),
    close: async () => {
      const stopped = stopAccepting();
      for (const connection of connections) connection.endWhenIdle();
      await stopped;
    },
  };
}

function setAccess(bindingPath: string, path: string, { mode, group }: RpcSocketOptions): void {
  if (group !== undefined) {
    try {
      chownSync(bindingPath, -1, group);
    } catch (err) {
      const { code, message } = err as NodeJS.ErrnoException;
      const why = code === 'EPERM' ? 'this process is not a member of that group (EPERM)' : message;
      throw new SocketStartError(`cannot give the plugin socket ${path} to group ${group} (SOCKET_GROUP): ${why}`);
    }
  }
  chmodSync(bindingPath, mode);
}

interface Connection {
  inFlight(): number;
  /** Ends the connection once its in-flight calls have been answered. */
  endWhenIdle(): void;
}

type Reader = (socket: Socket, onBytes: (bytes: Buffer) => void) => void;

const readStream: Reader = (socket, onBytes) => {
  socket.on('data', onBytes);
  socket.resume();
};

/** `onBytes` gets a view of the shared buffer, valid until it returns. */
function sharedBufferReader(onRead: OnReadFields): Reader {
  const shared = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  return (socket, onBytes) => {
    const handle = (socket as unknown as { _handle?: { useUserBuffer?: (buffer: Buffer) => void } })._handle;
    if (typeof handle?.useUserBuffer !== 'function') return readStream(socket, onBytes);
    const fields = socket as unknown as Record<symbol, unknown>;
    fields[onRead.buffer] = shared;
    fields[onRead.callback] = (bytesRead: number) => void onBytes(shared.subarray(0, bytesRead));
    handle.useUserBuffer(shared);
    socket.resume();
  };
}

function serveConnection(socket: Socket, dispatch: Dispatch, log: Logger, readInto: Reader): Connection {
  let inFlight = 0;
  let ending = false;
  let refused = false;
  /** The start of a message whose remaining bytes have not arrived yet. */
  let partial: Buffer | undefined;
  const answered = () => {
    inFlight--;
    if (ending && inFlight === 0) socket.end();
  };
  socket.on('error', () => socket.destroy());
  readInto(socket, (chunk) => {
    if (refused) return;
    const bytes = partial ? Buffer.concat([partial, chunk]) : chunk;
    partial = undefined;
    let decoded: Decoded;
    try {
      decoded = decodeComplete(bytes);
    } catch {
      return dropConnection(socket, log, 'undecodable bytes');
    }
    if (decoded.rest && decoded.rest.length > MAX_MESSAGE_BYTES) {
      refused = true;
      return refuseOversized(socket, decoded.rest, log);
    }
    // A copy: `chunk` may be the shared read buffer.
    partial = decoded.rest && Buffer.from(decoded.rest);
    for (const message of decoded.messages) {
      if (!isRequest(message)) return dropConnection(socket, log, 'not a MessagePack-RPC request');
      inFlight++;
      answer(socket, message, dispatch, answered);
    }
  });
  return {
    inFlight: () => inFlight,
    endWhenIdle() {
      ending = true;
      if (inFlight === 0) socket.end();
    },
  };
}

interface Decoded {
  messages: unknown[];
  /** Bytes of a message not yet complete. */
  rest?: Buffer;
}

/** Every whole message in `bytes`: Kong sends one at a time, but a chunk may split or join them. */
function decodeComplete(bytes: Buffer): Decoded {
  try {
    return { messages: unpackr.unpackMultiple(bytes) as unknown[] };
  } catch (err) {
    // msgpackr's incomplete error carries the messages read before it and where the unfinished one starts.
    const { incomplete, values, lastPosition } = err as { incomplete?: boolean; values?: unknown[]; lastPosition?: number };
    if (!incomplete) throw err;
    return { messages: values ?? [], rest: bytes.subarray(lastPosition ?? 0) };
  }
}

type Request = [0, number, string, unknown[]];

function isRequest(message: unknown): message is Request {
  return (
    Array.isArray(message) &&
    message.length === 4 &&
    message[0] === 0 &&
    Number.isInteger(message[1]) &&
    typeof message[2] === 'string' &&
    Array.isArray(message[3])
  );
}

/** The answer is written as soon as `dispatch` responds: no promise between Kong's call and our reply. */
function answer(socket: Socket, [, msgid, method, params]: Request, dispatch: Dispatch, answered: () => void): void {
  let done = false;
  const respond: Respond = (error, result) => {
    if (done) return;
    done = true;
    let reply: Buffer;
    try {
      reply = packr.pack([1, msgid, error, error === null ? (result ?? null) : null]);
    } catch (err) {
      reply = packr.pack([1, msgid, errorMessage(err), null]);
    }
    if (!socket.destroyed) socket.write(reply);
    answered();
  };
  try {
    dispatch(method, params, respond);
  } catch (err) {
    respond(errorMessage(err), null);
  }
}

/** Garbage on one connection costs that connection only, never the process. */
function dropConnection(socket: Socket, log: Logger, why: string): void {
  log.warn({ 'event.action': 'rpc-protocol-error' }, `closing a plugin socket connection: ${why}`);
  socket.destroy();
}

/** Answered with an error when the start of the message shows its msgid, then that connection is closed. */
function refuseOversized(socket: Socket, start: Buffer, log: Logger): void {
  const why = `over the ${MAX_MESSAGE_BYTES}-byte limit of one plugin socket message`;
  const msgid = requestMsgid(start);
  if (msgid === undefined) return dropConnection(socket, log, `a message ${why}`);
  log.warn({ 'event.action': 'rpc-protocol-error' }, `closing a plugin socket connection: a message ${why}`);
  socket.end(packr.pack([1, msgid, `message refused: ${why}`, null]), () => socket.destroy());
}

/** The msgid at the start of a request, `[0, msgid, method, params]`, when these bytes begin one. */
function requestMsgid(start: Buffer): number | undefined {
  if (start[0] !== 0x94) return undefined;
  try {
    const [type, msgid] = decodeComplete(start.subarray(1, 16)).messages;
    return type === 0 && Number.isInteger(msgid) ? (msgid as number) : undefined;
  } catch {
    return undefined;
  }
}

/** A socket file left by a crashed run is removed; a live server on it is a hard error. */
async function removeStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  if (!lstatSync(path).isSocket()) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
  const live = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) throw new SocketInUseError(path);
  unlinkSync(path);
}

/** Removes `path` when a socket is there (one a crashed start left, or ours at close); anything else stays. */
function removeIfSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
