'use strict';
// The floor: the least a plugin server can do for an issued or checked token — a minimal, hand-written
// server for Kong's protocol (MessagePack-RPC over the socket, StartInstance / HandleEvent / Step) with two
// plugins making the same Kong calls as ours: 'floor' does get_headers + get_credential (which names its
// consumer) + a node:crypto HS256 token + exit; 'floor-today' the issuer's calls before the credential sufficed:
// get_headers + get_consumer + get_credential + the token + exit; 'floor-gate' does get_headers + a node:crypto HS256 check + one set_headers
// with ours' table + kong.client.authenticate with the backstop's mark (exit 401 on a bad token);
// 'floor-gate-backstop' makes ours' calls with upstream_headers: backstop: get_headers + the check +
// kong.client.authenticate with the headers for kong/backstop.lua. No bookkeeping beyond the live events. A yardstick for bench/run.ts, not production code.
// Usage: node floor-server.cjs <socket>
const net = require('node:net');
const fs = require('node:fs');
const { createHmac, randomUUID, timingSafeEqual } = require('node:crypto');
const { Decoder, Encoder } = require('@msgpack/msgpack');
const { SECRET, CONSUMER, CREDENTIAL, gateHeaders, backstopCredential } = require('./bench-identity.cjs');

const encoder = new Encoder();
const secret = Buffer.from(SECRET);
const header = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url');
const events = new Map();
let nextEvent = 1;

function token(name) {
  const iat = Math.floor(Date.now() / 1000);
  const payload = Buffer.from(
    JSON.stringify({ sub: name, name, key: 'bench-key', jti: randomUUID(), iat, nbf: iat, exp: iat + 900 }),
  ).toString('base64url');
  const input = `${header}.${payload}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

// The claims of a valid Bearer token (our fixed HS256 header, signature, sub, exp), else undefined.
function verified(authorization) {
  const match = /^Bearer (.+)$/i.exec(authorization ?? '');
  const parts = match ? match[1].split('.') : [];
  if (parts.length !== 3 || parts[0] !== header) return undefined;
  const expected = createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`).digest();
  const signature = Buffer.from(parts[2], 'base64url');
  if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    return typeof claims.sub === 'string' && claims.exp > Date.now() / 1000 ? claims : undefined;
  } catch {
    return undefined;
  }
}

// The gate's event: headers → set_headers → authenticate → "ret" (backstop: headers → authenticate → "ret"), or headers → exit 401.
function gate(EventId, Data, event) {
  if (event.step === 2) {
    events.delete(EventId);
    return { EventId, Data: 'ret' };
  }
  if (event.step === 1) {
    event.step = 2;
    return { EventId, Data: { Method: 'kong.client.authenticate', Args: [CONSUMER, CREDENTIAL] } };
  }
  const claims = verified(Data.authorization?.[0]);
  if (claims === undefined) {
    events.delete(EventId);
    const body = JSON.stringify({ message: 'Unauthorized' });
    return { EventId, Data: { Method: 'kong.response.exit', Args: [401, body, { 'Content-Type': 'application/json' }] } };
  }
  if (event.backstop) {
    event.step = 2;
    return { EventId, Data: { Method: 'kong.client.authenticate', Args: [CONSUMER, backstopCredential(Data, claims)] } };
  }
  event.step = 1;
  return { EventId, Data: { Method: 'kong.service.request.set_headers', Args: [gateHeaders(Data, claims)] } };
}

// Each event is a small state machine; the issuer's: headers → (consumer →) credential → exit. Instance 1 is 'floor',
// instance 2 'floor-gate', instance 3 'floor-gate-backstop', instance 4 'floor-today'.
function handle(method, params) {
  switch (method) {
    case 'plugin.StartInstance': {
      const { Name } = params[0];
      const Id = { floor: 1, 'floor-gate': 2, 'floor-gate-backstop': 3, 'floor-today': 4 }[Name] ?? 1;
      return { Name, Id, Config: {}, StartTime: Date.now() / 1000 };
    }
    case 'plugin.HandleEvent': {
      const id = nextEvent++;
      const instance = params[0].InstanceId;
      events.set(id, { step: 0, gate: instance === 2 || instance === 3, backstop: instance === 3, readsConsumer: instance === 4 });
      return { EventId: id, Data: { Method: 'kong.request.get_headers', Args: [] } };
    }
    default: {
      const { EventId, Data } = params[0];
      const event = events.get(EventId);
      if (!event) throw new Error(`event id ${EventId} not found`);
      if (event.gate) return gate(EventId, Data, event);
      if (event.step === 0) {
        event.name = Data['x-consumer-username'][0];
        event.id = Data['x-consumer-id'][0];
        event.step = event.readsConsumer ? 1 : 2;
        return { EventId, Data: { Method: event.readsConsumer ? 'kong.client.get_consumer' : 'kong.client.get_credential', Args: [] } };
      }
      if (event.step === 1) {
        if (!Data || Data.id !== event.id) throw new Error('consumer mismatch');
        event.step = 2;
        return { EventId, Data: { Method: 'kong.client.get_credential', Args: [] } };
      }
      events.delete(EventId);
      if (!Data) throw new Error('no credential: anonymous consumers are refused');
      if (!event.readsConsumer && Data.consumer?.id !== event.id) throw new Error("the credential is not the consumer's");
      const body = JSON.stringify({ access_token: token(event.name), token_type: 'Bearer', expires_in: 900 });
      return {
        EventId,
        Data: { Method: 'kong.response.exit', Args: [200, body, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }] },
      };
    }
  }
}

// A graceful end on SIGINT, so that a profile (--cpu-prof) is written.
process.on('SIGINT', () => process.exit(0));
const path = process.argv[2];
try {
  fs.unlinkSync(path);
} catch {}
net
  .createServer((socket) => {
    const decoder = new Decoder();
    let buffered = Buffer.alloc(0);
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk) => {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      let message;
      try {
        message = decoder.decode(buffered); // Kong sends one request per connection at a time
      } catch (err) {
        if (err instanceof RangeError) return;
        socket.destroy();
        return;
      }
      buffered = Buffer.alloc(0);
      const [, msgid, method, params] = message;
      let reply;
      try {
        reply = [1, msgid, null, handle(method, params)];
      } catch (err) {
        reply = [1, msgid, err.message, null];
      }
      socket.write(encoder.encode(reply));
    });
  })
  .listen(path);
