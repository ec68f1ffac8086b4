'use strict';
// The bare kong-pdk issuer, making the same Kong calls as ours: one getHeaders, getCredential (none: the
// anonymous consumer, refused; it must name the consumer the headers name), a jose HS256 token with a raw key,
// exit 200.
const { SignJWT } = require('jose');
const { randomUUID } = require('node:crypto');

const secret = new TextEncoder().encode(require('../bench-identity.cjs').SECRET);

class Plugin {
  async access(kong) {
    const headers = await kong.request.getHeaders();
    const name = headers['x-consumer-username'][0];
    const credential = await kong.client.getCredential();
    if (!credential) throw new Error('anonymous consumers are refused');
    if (credential.consumer?.id !== headers['x-consumer-id'][0]) throw new Error('consumer mismatch');
    const token = await new SignJWT({ key: 'bench-key', jti: randomUUID(), name, unique_name: `corp#${name}` })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(name)
      .setIssuedAt()
      .setNotBefore('0s')
      .setExpirationTime('900s')
      .setIssuer('https://issuer.bench')
      .setAudience('api')
      .sign(secret);
    await kong.response.exit(200, JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 900 }), {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-store',
      Pragma: 'no-cache',
    });
  }
}

module.exports = { Plugin, Name: 'bare-issuer', Version: '0.1.0', Priority: 900, Schema: [] };
