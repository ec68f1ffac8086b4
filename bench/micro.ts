import { spawn } from 'node:child_process';
import { createHmac, createSecretKey, randomUUID, webcrypto } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Decoder, Encoder } from '@msgpack/msgpack';
import { jwtVerify, SignJWT } from 'jose';
import { packr, unpackr } from '../lib/kong/rpc-socket.js';
import { createRevocationList } from '../lib/tokens/revocation-list.js';
import { grantScopes, parseScopeParameter, scopesFromTags } from '../lib/tokens/scopes.js';
import { signHs256 } from '../lib/tokens/signer.js';
import { tokenIdAt } from '../lib/tokens/token-id.js';
import { COMMON_HEADERS } from './driver.js';

/**
 * Raw per-operation costs in one process (the "E. Raw costs" table of the perf research): signing and
 * verifying with jose, node:crypto HMAC, our signHs256, the server's msgpack share of one issuer event,
 * and a Unix-socket echo against a child process. Ops/s by wall clock; CPU µs/op from process.cpuUsage()
 * (all threads, so WebCrypto's thread-pool work counts). Meant to run pinned to core 1; the echo server
 * is pinned to core 0. `node dist/bench/micro.js [seconds]` prints a table and the rows as JSON.
 */
export interface MicroRow {
  operation: string;
  inFlight: number | 'sync';
  opsPerSecond: number;
  cpuMicrosPerOp: number;
}

interface Window {
  ops: number;
  elapsedMs: number;
  cpuMicros: number;
}

/** The one timing loop: `op` back to back for `seconds`, either synchronously or from `inFlight` loops. */
async function timeLoop(seconds: number, inFlight: number | 'sync', op: (worker: number) => unknown): Promise<Window> {
  const cpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  const endAt = startedAt + seconds * 1000;
  let ops = 0;
  if (inFlight === 'sync') {
    do {
      for (let i = 0; i < 100; i++) op(0);
      ops += 100;
    } while (performance.now() < endAt);
  } else {
    await Promise.all(
      Array.from({ length: inFlight }, async (_, worker) => {
        while (performance.now() < endAt) {
          await op(worker);
          ops++;
        }
      }),
    );
  }
  const elapsedMs = performance.now() - startedAt;
  const cpu = process.cpuUsage(cpuBefore);
  return { ops, elapsedMs, cpuMicros: cpu.user + cpu.system };
}

function toRow(operation: string, inFlight: number | 'sync', window: Window, cpuMicros = window.cpuMicros): MicroRow {
  return {
    operation,
    inFlight,
    opsPerSecond: Math.round((window.ops * 1000) / window.elapsedMs),
    cpuMicrosPerOp: Number((cpuMicros / window.ops).toFixed(2)),
  };
}

/**
 * The per-event work of two features alone, beside the same event without it: the gate's revocation
 * check against a populated list, and the issuer's scope decision (tags, the scope parameter, the grant).
 */
async function featureChecks(seconds: number): Promise<MicroRow[]> {
  const now = Date.now();
  const list = createRevocationList({ nowMs: Date.now });
  for (let n = 0; n < 10_000; n++) list.revokeToken(`revoked-${n}`, Math.floor(now / 1000) + 3600);
  for (let n = 0; n < 1_000; n++) list.revokeConsumer(`consumer-${n}`, now);
  const token = { jti: tokenIdAt(now), iat: Math.floor(now / 1000), exp: Math.floor(now / 1000) + 900 };
  const tags = ['scope:orders.read', 'scope:orders.write', 'team-bench'];
  let sink = 0;
  const rows = [
    await measure('revocation check: a valid token against 10,000 revoked ids and 1,000 revoke-all marks', 'sync', seconds, () => {
      sink += list.isRevoked(token, 'consumer-bench') ? 1 : 0;
    }),
    await measure('scopes: allowed from 3 tags, the scope parameter parsed, the grant', 'sync', seconds, () => {
      const requested = parseScopeParameter('orders.read');
      const grant = grantScopes(scopesFromTags(tags, 'scope:'), requested, []);
      sink += 'granted' in grant ? grant.granted.length : 0;
    }),
  ];
  if (sink < 0) console.log(sink);
  return rows;
}

/** Warm-up (a tenth of the time), then the measured window. */
export async function measure(
  operation: string,
  inFlight: number | 'sync',
  seconds: number,
  op: (worker: number) => unknown,
): Promise<MicroRow> {
  await timeLoop(seconds / 10, inFlight, op);
  return toRow(operation, inFlight, await timeLoop(seconds, inFlight, op));
}

// The anchor service's claims (a Kong-style 32-hex credential key, URL issuer and audience): a 424-byte
// signing input, a 468-character token.
const SECRET = 'bench-secret-0123456789abcdef0123456789';
const secretBytes = new TextEncoder().encode(SECRET);
const NAME = 'bench-consumer';
export const claims = () => {
  const iat = Math.floor(Date.now() / 1000);
  return {
    sub: NAME,
    key: 'a36c3049b36249a3c9f8891cb127243c',
    jti: randomUUID(),
    iat,
    nbf: iat,
    exp: iat + 900,
    iss: 'https://auth.example.com',
    aud: 'https://api.bench.io',
    name: NAME,
    unique_name: `pvhcorp.com#${NAME}`,
  };
};
const joseSign = (key: Uint8Array | webcrypto.CryptoKey) => {
  const { sub, key: keyClaim, jti, name, unique_name, iss, aud } = claims();
  return new SignJWT({ key: keyClaim, jti, name, unique_name })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setIssuedAt()
    .setNotBefore('0s')
    .setExpirationTime('900s')
    .setIssuer(iss)
    .setAudience(aud)
    .sign(key);
};

// The 17 headers of bench/driver.ts kongRequest(), as Kong's get_headers returns them (arrays of strings).
const HEADERS: Record<string, string[]> = Object.fromEntries(
  Object.entries({
    ...COMMON_HEADERS,
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    'x-consumer-id': '11111111-1111-4111-8111-111111111111',
    'x-consumer-username': NAME,
    'x-consumer-custom-id': 'bench-custom',
    'x-credential-identifier': 'cred-1',
  }).map(([name, value]) => [name, [value]]),
);

/** The server's messages of one issuer event: the three requests it decodes, the three answers it encodes. */
function issuerMessages(token: string) {
  const kong = new Encoder({ ignoreUndefined: false }); // the client side's bytes, made once
  const EventId = 1;
  const requests = [
    [0, 1, 'plugin.HandleEvent', [{ InstanceId: 1763940000000000, EventName: 'access' }]],
    [0, 2, 'plugin.StepMultiMap', [{ EventId, Data: HEADERS }]],
    [0, 3, 'plugin.StepCredential', [{ EventId, Data: { id: 'cred-1', consumer: { id: '11111111-1111-4111-8111-111111111111' } } }]],
  ].map((message) => kong.encode(message));
  const body = JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 900 });
  const exitHeaders = {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-store',
    Pragma: 'no-cache',
    'X-Request-Id': 'bench-request-id',
  };
  const answers = [
    [1, 1, null, { EventId, Data: { Method: 'kong.request.get_headers', Args: [] } }],
    [1, 2, null, { EventId, Data: { Method: 'kong.client.get_credential', Args: [] } }],
    [1, 3, null, { EventId, Data: { Method: 'kong.response.exit', Args: [200, body, exitHeaders] } }],
  ];
  return { requests, answers };
}

/** 32 connections to an echo server in a child process, one 128-byte message in flight on each. */
async function echoRows(seconds: number): Promise<MicroRow[]> {
  const path = join(tmpdir(), `micro-echo-${process.pid}.sock`);
  rmSync(path, { force: true });
  const script =
    "const p=process.argv[1];require('node:net').createServer((s)=>{s.on('error',()=>s.destroy());s.on('data',(d)=>s.write(d))}).listen(p,()=>process.stdout.write('ready\\n'))";
  const command = [...(cpus().length > 1 ? ['taskset', '-c', '0'] : []), process.execPath, '-e', script, path];
  const child = spawn(command[0] as string, command.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  const sockets: Socket[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once('data', () => resolve());
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`the echo server exited (${code})`)));
    });
    const message = Buffer.alloc(128, 'x');
    const roundTrips = await Promise.all(
      Array.from({ length: 32 }, async () => {
        const socket = connect(path);
        sockets.push(socket);
        await once(socket, 'connect');
        let missing = 0;
        let done: (() => void) | undefined;
        socket.on('data', (chunk: Buffer) => {
          missing -= chunk.length;
          if (missing <= 0 && done) {
            const resolve = done;
            done = undefined;
            resolve();
          }
        });
        return () =>
          new Promise<void>((resolve) => {
            missing = message.length;
            done = resolve;
            socket.write(message);
          });
      }),
    );
    const op = (worker: number) => roundTrips[worker]!();
    const serverTicks = () => {
      const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      return Number(fields[11]) + Number(fields[12]); // utime + stime, all threads, in 1/100 s
    };
    await timeLoop(seconds / 10, 32, op);
    const ticksBefore = serverTicks();
    const window = await timeLoop(seconds, 32, op);
    const serverMicros = (serverTicks() - ticksBefore) * 10_000;
    return [toRow('unix socket echo, 128 B (client side)', 32, window), toRow('unix socket echo (server side)', 32, window, serverMicros)];
  } finally {
    for (const socket of sockets) socket.destroy();
    child.kill();
    rmSync(path, { force: true });
  }
}

export async function runMicro(opts: { seconds: number }): Promise<MicroRow[]> {
  const { seconds } = opts;
  const cryptoKey = await webcrypto.subtle.importKey('raw', secretBytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  const keyObject = createSecretKey(Buffer.from(SECRET, 'utf8'));
  const token = signHs256(claims(), keyObject);
  const signingInput = token.slice(0, token.lastIndexOf('.'));
  const secretBuffer = Buffer.from(SECRET, 'utf8');
  const { requests, answers } = issuerMessages(token);
  let sink = 0; // keeps results alive so nothing is optimised away

  const msgpack = { encoder: new Encoder({ ignoreUndefined: false }), decoder: new Decoder() };
  // The server's own codec (lib/rpc-socket.ts).
  const msgpackr = { packr, unpackr };

  const rows: MicroRow[] = [];
  rows.push(await measure('jose SignJWT HS256, Uint8Array key', 32, seconds, () => joseSign(secretBytes)));
  rows.push(await measure('jose SignJWT HS256, CryptoKey imported once', 32, seconds, () => joseSign(cryptoKey)));
  rows.push(
    await measure('jose jwtVerify HS256, Uint8Array key', 32, seconds, () => jwtVerify(token, secretBytes, { algorithms: ['HS256'] })),
  );
  rows.push(await measure('jose jwtVerify HS256, CryptoKey', 32, seconds, () => jwtVerify(token, cryptoKey, { algorithms: ['HS256'] })));
  rows.push(
    await measure(`createHmac sha256, ${signingInput.length} B input + digest base64url`, 'sync', seconds, () => {
      sink += createHmac('sha256', secretBuffer).update(signingInput).digest('base64url').length;
    }),
  );
  rows.push(
    await measure('whole JWT: claims + randomUUID + signHs256 (KeyObject)', 'sync', seconds, () => {
      sink += signHs256(claims(), keyObject).length;
    }),
  );
  rows.push(
    await measure('msgpack server share of an issuer event (3 decodes + 3 encodes), @msgpack/msgpack', 'sync', seconds, () => {
      for (const bytes of requests) sink += (msgpack.decoder.decode(bytes) as unknown[]).length;
      for (const answer of answers) sink += msgpack.encoder.encode(answer).length;
    }),
  );
  rows.push(
    await measure('msgpack server share of an issuer event (3 decodes + 3 encodes), msgpackr', 'sync', seconds, () => {
      for (const bytes of requests) sink += (msgpackr.unpackr.unpack(bytes) as unknown[]).length;
      for (const answer of answers) sink += msgpackr.packr.pack(answer).length;
    }),
  );
  rows.push(...(await featureChecks(seconds)));
  rows.push(...(await echoRows(seconds)));
  if (sink < 0) console.log(sink);
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const seconds = Number(process.argv[2] ?? 3);
  const rows = await runMicro({ seconds });
  console.log('| operation | in flight | ops/s | CPU µs/op |\n|---|---:|---:|---:|');
  for (const row of rows)
    console.log(`| ${row.operation} | ${row.inFlight} | ${row.opsPerSecond.toLocaleString('en-US')} | ${row.cpuMicrosPerOp} |`);
  console.log(JSON.stringify(rows));
}
