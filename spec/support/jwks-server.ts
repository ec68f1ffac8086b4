import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { SignJWT, exportJWK, type JWK } from 'jose';

/** A provider's signing key: its kid, alg, private key (to sign test tokens) and public JWK (to publish). */
export interface ProviderKey {
  kid: string;
  alg: 'RS256' | 'PS256' | 'ES256' | 'EdDSA';
  privateKey: KeyObject;
  jwk: JWK;
}

export async function providerKey(kid: string, alg: ProviderKey['alg']): Promise<ProviderKey> {
  const { privateKey, publicKey } =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** A token signed by `key` with jose (independent of the code under test), header {alg, kid, typ} plus `header`. */
export function signWith(key: ProviderKey, claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header }).sign(key.privateKey);
}

/**
 * An ES256 token with any header, signed with node:crypto: jose refuses to sign headers a verifier must
 * refuse (a `crit` it does not know).
 */
export function signRaw(key: ProviderKey, header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const segment = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${segment({ alg: key.alg, kid: key.kid, ...header })}.${segment(claims)}`;
  const signature = sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

/** What the server answers next: a JWKS of keys, a body as is, or a status. */
export type JwksAnswer =
  { kind: 'keys'; keys: JWK[]; cacheControl?: string } | { kind: 'body'; body: string | Buffer; status?: number; contentType?: string };

/**
 * An identity provider's JWKS endpoint on 127.0.0.1: it counts the fetches, answers what the test set,
 * can hold every answer until released (a slow provider), and can go down and come back on its port.
 */
export class JwksServer {
  /** Fetches received (held ones included). */
  fetches = 0;
  answer: JwksAnswer = { kind: 'keys', keys: [] };
  private server: Server | undefined;
  private held: Array<() => void> | undefined;
  private port = 0;

  static async start(): Promise<JwksServer> {
    const jwks = new JwksServer();
    await jwks.up();
    return jwks;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/jwks.json`;
  }

  serveKeys(keys: ProviderKey[], cacheControl = 'public, max-age=300'): void {
    this.answer = { kind: 'keys', keys: keys.map((key) => key.jwk), cacheControl };
  }

  /** Answers wait from now on until release(). */
  hold(): void {
    this.held ??= [];
  }

  /** Lets every held answer (and those to come) go. */
  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const go of held) go();
  }

  /** Answers held right now. */
  get waiting(): number {
    return this.held?.length ?? 0;
  }

  async up(): Promise<void> {
    const server = createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 1;
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Closes the port (connections included): fetches are refused until up(). */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    this.release();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.fetches++;
    const answer = this.answer;
    const send = () => {
      if (answer.kind === 'keys') {
        res.writeHead(200, { 'content-type': 'application/jwk-set+json', 'cache-control': answer.cacheControl ?? 'max-age=300' });
        res.end(JSON.stringify({ keys: answer.keys }));
      } else {
        res.writeHead(answer.status ?? 200, { 'content-type': answer.contentType ?? 'application/json' });
        res.end(answer.body);
      }
    };
    if (this.held) this.held.push(send);
    else send();
  }
}
