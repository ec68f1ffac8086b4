'use strict';
// The upstream behind every proxied route of the end-to-end part (bench/e2e.ts): Node `http` on 127.0.0.1,
// answering 200 with a small JSON body, out of Kong's worker, so that Kong's CPU is Kong's own work.
// Usage: node echo-upstream.cjs <port> (prints "listening" once it accepts connections)
const http = require('node:http');

const body = JSON.stringify({ upstream: true });
const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  req.resume();
  res.writeHead(200, { 'Content-Type': 'application/json', 'X-Realkong-Upstream': 'echo' }).end(body);
});
process.on('SIGINT', () => process.exit(0));
server.listen(Number(process.argv[2]), '127.0.0.1', () => process.stdout.write('listening\n'));
