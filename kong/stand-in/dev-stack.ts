import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join, relative } from 'node:path';
import type { AddressInfo } from 'node:net';
import { KongHarness } from './kong-harness.js';
import { loadKongYml } from './kong-yml.js';
import { PROJECT_ROOT, runCli } from './plugin-server-process.js';

/**
 * A key directory for the dev stack's JWKS: SIGNING_KEYS_DIR, else .dev/signing-keys. One without a
 * manifest gets a current ES256 key from `keys generate` and `keys promote`, as a platform team makes one.
 */
async function devKeyDirectory(): Promise<{ dir: string; generated: string | undefined }> {
  const dir = process.env.SIGNING_KEYS_DIR || join(PROJECT_ROOT, '.dev', 'signing-keys');
  if (existsSync(join(dir, 'keys.json'))) return { dir, generated: undefined };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const generate = await runCli(['keys', 'generate', '--alg', 'ES256', '--dir', dir]);
  if (generate.code !== 0) throw new Error(`keys generate: ${generate.stderr}`);
  const kid = generate.stdout.trim();
  const promote = await runCli(['keys', 'promote', '--kid', kid, '--dir', dir]);
  if (promote.code !== 0) throw new Error(`keys promote: ${promote.stderr}`);
  return { dir, generated: kid };
}

/**
 * `make dev`: the plugin server, a dev Admin API seeded from kong.yml, and a small gateway on
 * 127.0.0.1:8000 that routes by kong.yml and runs the plugins through the socket as Kong does.
 */
async function main(): Promise<void> {
  const port = Number(process.env.DEV_PORT ?? 8000);
  const yml = loadKongYml(join(PROJECT_ROOT, 'kong.yml'));
  const keys = await devKeyDirectory();
  const kong = await KongHarness.start({
    kongYml: yml,
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', STATUS_PORT: process.env.STATUS_PORT ?? '3000', SIGNING_KEYS_DIR: keys.dir },
  });
  const status = await kong.server.statusUrl();
  kong.server.onOutput = (text) => process.stdout.write(text.split('\n').filter(Boolean).map(pretty).join(''));

  const http = createServer((req, res) => void proxy(kong, req, res));
  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

  const [client] = kong.store.consumers();
  const apikey = client ? 'example-apikey-client-1' : '<apikey from kong.yml>';
  // The store keeps basic-auth passwords hashed, as Kong does: the clear one is the file's.
  const oauthClient = yml.consumers.flatMap((consumer) => consumer.basicauth_credentials)[0];
  const basicUser = oauthClient ? `${oauthClient.username}:${oauthClient.password}` : '<client_id>:<secret from kong.yml>';
  process.stdout.write(
    [
      '',
      'kong-auth-sidecar dev stack is running:',
      `  plugin server   socket ${kong.server.socketPath} (pid ${kong.server.pid})`,
      `  dev Admin API   ${kong.adminApi.url} (seeded from kong.yml)`,
      `  dev gateway     ${base} (routes from kong.yml)`,
      `  status port     ${status} (/health, /health/ready, /metrics)`,
      `  signing keys    ${relative(process.cwd(), keys.dir) || '.'}${keys.generated ? ` (generated: a current ES256 key, kid ${keys.generated})` : ''}`,
      '',
      'Try:',
      `  curl -s -H 'apikey: ${apikey}' ${base}/tokens`,
      `  TOKEN=$(curl -s -H 'apikey: ${apikey}' ${base}/tokens | sed 's/.*"access_token":"\\([^"]*\\)".*/\\1/')`,
      `  curl -s -H "Authorization: Bearer $TOKEN" ${base}/api/hello`,
      `  curl -s ${base}/tokens            # no apikey: 401 from key-auth`,
      `  curl -s -u ${basicUser} -d grant_type=client_credentials -d scope=orders.read ${base}/oauth2/token`,
      `  curl -s ${base}/.well-known/jwks.json`,
      `  curl -s ${base}/.well-known/oauth-authorization-server`,
      `  curl -s ${status}/health`,
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    http.close();
    http.closeAllConnections();
    try {
      await kong.stop();
      process.stdout.write('dev stack stopped\n');
      process.exit(0);
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n`);
      process.exit(1);
    }
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

/** make dev's readable log: time, level, action, message and the fields on-call reads first. The service itself only writes JSON. */
function pretty(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return `${line}\n`;
  }
  const time = String(entry['@timestamp'] ?? '').slice(11, 23);
  const extras = ['user.name', 'error.code', 'event.outcome', 'trace.id']
    .filter((key) => entry[key] !== undefined)
    .map((key) => `${key}=${String(entry[key])}`);
  const ms = typeof entry['event.duration'] === 'number' ? ` ${(entry['event.duration'] / 1e6).toFixed(2)}ms` : '';
  return `${time} ${String(entry['log.level']).toUpperCase().padEnd(5)} ${String(entry['event.action'] ?? '').padEnd(16)} ${String(entry.message)}${ms} ${extras.join(' ')}\n`;
}

/** nginx's client_max_body_size as Kong sets it for the proxy (1m by default in nginx). */
const MAX_BODY_BYTES = 1024 * 1024;

/** The request body, or undefined beyond MAX_BODY_BYTES. */
async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function proxy(kong: KongHarness, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const headers: Record<string, string[]> = {};
    for (const [name, values] of Object.entries(req.headersDistinct)) if (values) headers[name] = values;
    const body = await readBody(req);
    if (body === undefined)
      return void res.writeHead(413, { 'content-type': 'application/json' }).end('{"message":"Request size limit exceeded"}');
    const answer = await kong.request({ method: req.method ?? 'GET', path: req.url ?? '/', headers, body });
    res.writeHead(answer.status, answer.headers).end(answer.body);
  } catch (err) {
    res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ message: (err as Error).message }));
  }
}

await main();
