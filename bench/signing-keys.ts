import { createPrivateKey } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { createLocalJWKSet, jwtVerify, SignJWT } from 'jose';
import { jwksOf } from '../lib/tokens/jwks.js';
import { KEY_ALGS } from '../lib/tokens/key-manifest.js';
import { buildKeySet, generatePrivateKeyPem } from '../lib/tokens/key-set.js';
import { signJwt, verifyJwt } from '../lib/tokens/signing-keys.js';
import { claims, measure, type MicroRow } from './micro.js';

/**
 * Sign and verify costs per algorithm of the sidecar's own keys: our node:crypto signJwt and verifyJwt
 * (key objects parsed once), beside jose's SignJWT and jwtVerify with the same key objects and with a
 * local JWKS, and what parsing the PEM per token would add. Meant to run pinned to one core:
 * `taskset -c 1 node dist/bench/signing-keys.js [seconds]` prints a table and the rows as JSON.
 */
export async function runSigningKeys(opts: { seconds: number }): Promise<MicroRow[]> {
  const { seconds } = opts;
  const rows: MicroRow[] = [];
  let sink = 0;
  for (const alg of KEY_ALGS) {
    const pem = generatePrivateKeyPem(alg);
    const { set } = await buildKeySet(
      { keys: [{ file: 'k.pem', kid: 'bench', alg, state: 'current' }] },
      new Map([['k.pem', Buffer.from(pem)]]),
      {
        nowMs: Date.now(),
      },
    );
    const key = set.current.get(alg)!;
    const token = signJwt(claims(), key);
    const localJwks = createLocalJWKSet(JSON.parse(jwksOf(set).body));
    rows.push(
      await measure(`${alg} signJwt (node:crypto, key object)`, 'sync', seconds, () => {
        sink += signJwt(claims(), key).length;
      }),
    );
    rows.push(
      await measure(`${alg} jose SignJWT (same key object)`, 32, seconds, async () => {
        sink += (await new SignJWT(claims()).setProtectedHeader({ alg, kid: 'bench', typ: 'JWT' }).sign(key.privateKey!)).length;
      }),
    );
    rows.push(
      await measure(`${alg} signJwt with the PEM parsed per token`, 'sync', seconds / 3, () => {
        sink += signJwt(claims(), { ...key, privateKey: createPrivateKey(pem) }).length;
      }),
    );
    rows.push(
      await measure(`${alg} verifyJwt (kid lookup, node:crypto)`, 'sync', seconds, () => {
        sink += Object.keys(verifyJwt(token, set).claims).length;
      }),
    );
    rows.push(
      await measure(`${alg} jose jwtVerify (key object)`, 32, seconds, async () => {
        sink += Object.keys((await jwtVerify(token, key.publicKey, { algorithms: [alg] })).payload).length;
      }),
    );
    rows.push(
      await measure(`${alg} jose jwtVerify (createLocalJWKSet)`, 32, seconds, async () => {
        sink += Object.keys((await jwtVerify(token, localJwks, { algorithms: [alg] })).payload).length;
      }),
    );
  }
  if (sink < 0) console.log(sink);
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await runSigningKeys({ seconds: Number(process.argv[2] ?? 3) });
  console.log('| operation | in flight | ops/s | CPU µs/op |\n|---|---:|---:|---:|');
  for (const row of rows)
    console.log(`| ${row.operation} | ${row.inFlight} | ${row.opsPerSecond.toLocaleString('en-US')} | ${row.cpuMicrosPerOp} |`);
  console.log(JSON.stringify(rows));
}
