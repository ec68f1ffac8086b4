import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { readCpuMax, usableCpus } from '../../lib/cpu-budget.js';
import { PluginServerProcess, PROJECT_ROOT, runCli } from '../../kong/stand-in/plugin-server-process.js';
import { OUR_PLUGINS } from '../../kong/stand-in/kong-harness.js';

const VERSION = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('kong-auth-sidecar command line', () => {
  test('-v prints the package version', async () => {
    assert.deepEqual(await runCli(['-v']), { code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  test('an unknown option exits 2 with the usage', async () => {
    const { code, stderr } = await runCli(['--bogus']);
    assert.equal(code, 2);
    assert.match(stderr, /unknown option --bogus/);
    assert.match(stderr, /Usage: kong-auth-sidecar/);
  });

  for (const [variable, value, allowed] of [
    ['KONG_ADMIN_TIMEOUT_MS', 'soon', 'an integer from 50 to 60000'],
    ['KONG_ADMIN_URL', 'ftp://kong', 'an http:// or https:// URL'],
    ['LOG_LEVEL', 'chatty', 'one of fatal, error, warn, info, debug, trace, silent'],
    ['CACHE_TTL_SECONDS', '0', 'an integer from 1 to 86400'],
  ] as const) {
    test(`an invalid ${variable} stops the start with exit 1 and one line naming it`, async () => {
      const server = new PluginServerProcess({ [variable]: value });
      try {
        await assert.rejects(server.start(), /exited with 1/);
        assert.equal(server.capturedOutput, `kong-auth-sidecar: invalid ${variable}=${JSON.stringify(value)}: ${allowed}\n`);
      } finally {
        server.removePrefix();
      }
    });
  }

  test("kong-js-pluginserver's single-dash -kong-prefix form is accepted", async () => {
    const server = new PluginServerProcess({});
    try {
      await server.start(['-kong-prefix', server.prefix]);
      assert.equal(await server.stop(), 0);
    } finally {
      server.removePrefix();
    }
  });

  test("KONG_PREFIX is the default socket directory, and PLUGIN_INFO_DIR gets the files Kong's `cat` query_cmd reads", async () => {
    const server = new PluginServerProcess({});
    const infoDir = join(server.prefix, 'plugin-info');
    const inPrefix = new PluginServerProcess({ KONG_PREFIX: server.prefix, PLUGIN_INFO_DIR: infoDir }, server.prefix);
    try {
      await inPrefix.start([]);
      for (const name of OUR_PLUGINS) {
        assert.equal(readFileSync(join(infoDir, `${name}.json`), 'utf8'), (await runCli(['--dump-plugin-info', name])).stdout);
      }
      assert.equal(await inPrefix.stop(), 0);
    } finally {
      server.removePrefix();
    }
  });

  test("on one CPU (taskset) V8's parallel scavenging is turned off; the start-up line says so, and how Kong's connections are read", async () => {
    const startedLine = async (launcher: string[]) => {
      const server = new PluginServerProcess({});
      server.launcher = launcher;
      try {
        await server.start();
        const started = await server.waitForLogLine((line) => line['event.action'] === 'started');
        assert.equal(await server.stop(), 0);
        return started;
      } finally {
        server.removePrefix();
      }
    };
    const pinned = await startedLine(['taskset', '-c', '0']);
    assert.equal(pinned?.['process.cpus'], 1);
    assert.equal(pinned?.['v8.parallel_scavenge'], false);
    assert.equal(pinned?.['v8.parallel_scavenge_set_by'], 'cpu-budget');
    const free = await startedLine([]);
    const cpus = usableCpus(availableParallelism(), readCpuMax()); // a container's CPU limit, if this runs in one
    assert.equal(free?.['process.cpus'], cpus);
    assert.equal(free?.['v8.parallel_scavenge'], cpus >= 2);
    assert.equal(free?.['kong.socket_reads'], 'shared-buffer');
  });
});
