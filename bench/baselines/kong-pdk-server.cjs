'use strict';
// The baseline: kong-pdk 0.6.0's own Server and Listener, set up as its bin/kong-js-pluginserver does
// (ps.close() after serve() included), serving bench/baselines/plugins/. ts-node is replaced by a stub,
// as kong-pdk's lib/mod.js requires it at load. Usage: node kong-pdk-server.cjs <socket path>
const Module = require('node:module');
const path = require('node:path');

const tsNode = require.resolve('ts-node', { paths: [path.dirname(require.resolve('kong-pdk/package.json'))] });
const stub = new Module(tsNode);
stub.exports = { register() {} };
stub.loaded = true;
require.cache[tsNode] = stub;

const Server = require('kong-pdk/server');
const Listener = require('kong-pdk/listener');
const quiet = { info() {}, debug() {}, warn() {}, error() {} };
const ps = new Server(path.join(__dirname, 'plugins'), quiet);
// A graceful end on SIGINT, so that a profile (--cpu-prof) is written.
process.on('SIGINT', () => process.exit(0));
new Listener(ps, process.argv[2]).serve();
ps.close();
