'use strict';
// The bare kong-pdk gate, making the same Kong calls as ours: one getHeaders, jose jwtVerify HS256 with a raw
// key, one setHeaders with ours' table, kong.client.authenticate with the backstop's mark; 401 on any failure.
const { jwtVerify } = require('jose');
const { SECRET, CONSUMER, CREDENTIAL, gateHeaders } = require('../bench-identity.cjs');

const secret = new TextEncoder().encode(SECRET);

class Plugin {
  async access(kong) {
    const headers = await kong.request.getHeaders();
    const [scheme, token] = (headers.authorization?.[0] ?? '').split(' ');
    let payload;
    try {
      if (scheme.toLowerCase() !== 'bearer' || !token) throw new Error('no bearer token');
      ({ payload } = await jwtVerify(token, secret, { algorithms: ['HS256'] }));
    } catch {
      await kong.response.exit(401, JSON.stringify({ message: 'Unauthorized' }), { 'Content-Type': 'application/json' });
      return;
    }
    await kong.service.request.setHeaders(gateHeaders(headers, payload));
    await kong.client.authenticate(CONSUMER, CREDENTIAL);
  }
}

module.exports = { Plugin, Name: 'bare-gate', Version: '0.1.0', Priority: 900, Schema: [] };
