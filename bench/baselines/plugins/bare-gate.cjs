'use strict';
// The "bare kong-pdk plugin that verifies with jose and sets one upstream header": one getHeaders,
// jose jwtVerify HS256 with a raw key, setHeader X-Consumer-Username; 401 on any failure.
const { jwtVerify } = require('jose');

const secret = new TextEncoder().encode('bench-secret-0123456789abcdef0123456789');

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
    await kong.service.request.setHeader('X-Consumer-Username', payload.sub);
  }
}

module.exports = { Plugin, Name: 'bare-gate', Version: '0.1.0', Priority: 900, Schema: [] };
