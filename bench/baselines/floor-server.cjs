'use strict';
// The floor: the least a plugin server can do for an issued token — a minimal, hand-written server for
// Kong's protocol (MessagePack-RPC over the socket, StartInstance / HandleEvent / Step) whose one plugin
// does get_headers + get_consumer + a node:crypto HS256 token + exit, with no bookkeeping beyond the
// live events. A yardstick for bench/run.ts, not production code. Usage: node floor-server.cjs <socket>
const net = require('node:net');
const fs = require('node:fs');
const { createHmac, randomUUID } = require('node:crypto');
const { Decoder, Encoder } = require('@msgpack/msgpack');

const encoder = new Encoder();
const secret = Buffer.from('bench-secret-0123456789abcdef0123456789');
const header = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url');
const events = new Map();
let nextEvent = 1;

function token(name) {
  const iat = Math.floor(Date.now() / 1000);
  const payload = Buffer.from(JSON.stringify({ sub: name, name, key: 'bench-key', jti: randomUUID(), iat, nbf: iat, exp: iat + 900 })).toString('base64url');
  const input = `${header}.${payload}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

// Each event is a small state machine: headers → consumer → exit.
function handle(method, params) {
  switch (method) {
    case 'plugin.StartInstance':
      return { Name: params[0].Name, Id: 1, Config: {}, StartTime: Date.now() / 1000 };
    case 'plugin.HandleEvent': {
      const id = nextEvent++;
      events.set(id, { step: 0 });
      return { EventId: id, Data: { Method: 'kong.request.get_headers', Args: [] } };
    }
    default: {
      const { EventId, Data } = params[0];
      const event = events.get(EventId);
      if (!event) throw new Error(`event id ${EventId} not found`);
      if (event.step === 0) {
        event.name = Data['x-consumer-username'][0];
        event.id = Data['x-consumer-id'][0];
        event.step = 1;
        return { EventId, Data: { Method: 'kong.client.get_consumer', Args: [] } };
      }
      events.delete(EventId);
      if (!Data || Data.id !== event.id) throw new Error('consumer mismatch');
      const body = JSON.stringify({ access_token: token(event.name), token_type: 'Bearer', expires_in: 900 });
      return { EventId, Data: { Method: 'kong.response.exit', Args: [200, body, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }] } };
    }
  }
}

const path = process.argv[2];
try { fs.unlinkSync(path); } catch {}
net.createServer((socket) => {
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
}).listen(path);
