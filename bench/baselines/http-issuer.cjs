'use strict';
// The HTTP anchor: the issuer as a token service behind Kong, the shape of the service this project replaces.
// Kong proxies the issuer's route to it; it trusts the consumer headers Kong's auth plugin set, signs the same
// HS256 token as the floor with node:crypto and answers 200. A yardstick for bench/e2e.ts, not production code.
// Usage: node http-issuer.cjs <port> (prints "listening" once it accepts connections)
const http = require('node:http');
const { createHmac, randomUUID } = require('node:crypto');
const { SECRET, KEY } = require('./bench-identity.cjs');

const header = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url');

function token(name) {
  const iat = Math.floor(Date.now() / 1000);
  const claims = { sub: name, name, unique_name: `corp#${name}`, key: KEY, jti: randomUUID(), iat, nbf: iat, exp: iat + 900 };
  const input = `${header}.${Buffer.from(JSON.stringify({ ...claims, iss: 'https://issuer.bench', aud: 'api' })).toString('base64url')}`;
  return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
}

const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const name = req.headers['x-consumer-username'];
  if (typeof name !== 'string' || typeof req.headers['x-consumer-id'] !== 'string') {
    res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"message":"Unauthorized"}');
    return;
  }
  const body = JSON.stringify({ access_token: token(name), token_type: 'Bearer', expires_in: 900 });
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', Pragma: 'no-cache' }).end(body);
});
process.on('SIGINT', () => process.exit(0));
server.listen(Number(process.argv[2]), '127.0.0.1', () => process.stdout.write('listening\n'));
