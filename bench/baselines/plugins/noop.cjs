'use strict';
// The noop baseline: the access phase returns at once (one RPC per event, no PDK call).
class Plugin {
  async access() {}
}

module.exports = { Plugin, Name: 'noop', Version: '0.1.0', Priority: 900, Schema: [] };
