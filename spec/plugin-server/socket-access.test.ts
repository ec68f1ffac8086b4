import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { PluginServerProcess, PROJECT_ROOT, runScript, type RunAs } from '../../kong/stand-in/plugin-server-process.js';

// The deployments' users: the sidecar image's (distroless nonroot, 65532:65532) and Kong's (kong, uid 1000),
// which compose and Kubernetes put in the sidecar's group. A spawned process gets no supplementary groups,
// so here that group is the primary group of Kong's user.
const SIDECAR: RunAs = { uid: 65532, gid: 65532 };
const KONG: RunAs = { uid: 1000, gid: SIDECAR.gid };
const STRANGER: RunAs = { uid: 2000, gid: 2000 };
const OTHER_GID = 1000;
const RPC_CALL = join(PROJECT_ROOT, 'dist', 'spec', 'support', 'rpc-call.js');
/** The umask a container or a service manager usually starts a process with: a new socket is 0755. */
const UNDER_UMASK_022 = ['/bin/sh', '-c', 'umask 022 && exec "$@"', 'sh'];

function mustBeRoot(): void {
  if (process.getuid?.() !== 0) {
    assert.fail(
      'this test starts processes as other users and needs root (CI runs as root): sudo -n node --test dist/spec/plugin-server/socket-access.test.js',
    );
  }
}

/** The plugin server as `user` (else as this process), under umask 022, in a prefix it owns and anyone may traverse. */
function sidecar(t: TestContext, env: Record<string, string>, user?: RunAs): PluginServerProcess {
  const server = new PluginServerProcess(env);
  t.after(async () => {
    await server.stop();
    server.removePrefix();
  });
  chmodSync(server.prefix, 0o755);
  if (user) {
    chownSync(server.prefix, user.uid, user.gid);
    server.runAs = user;
  }
  server.launcher = UNDER_UMASK_022;
  return server;
}

/** Started: the socket is at its path only once it has its group and mode, and the process says so. */
async function serving(server: PluginServerProcess): Promise<void> {
  await server.start();
  assert.ok(await server.waitForLogLine((line) => line['event.action'] === 'started'), `no started line:\n${server.capturedOutput}`);
}

/** One RPC on the socket from a process running as `user`. */
async function callAs(
  user: RunAs,
  socketPath: string,
  method: string,
  ...params: unknown[]
): Promise<{ result?: Record<string, unknown>; error?: string }> {
  const { code, stdout, stderr } = await runScript(RPC_CALL, [socketPath, method, JSON.stringify(params)], {}, 10_000, user);
  if (code !== 0) throw new Error(`rpc-call as uid ${user.uid} exited ${code}: ${stderr}`);
  return JSON.parse(stdout) as { result?: Record<string, unknown>; error?: string };
}

const ownership = (path: string) => {
  const stat = statSync(path);
  return { mode: (stat.mode & 0o7777).toString(8), uid: stat.uid, gid: stat.gid };
};

/** A group of this machine other than this process's own, by name. */
function someOtherGroup(): { name: string; gid: number } {
  for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
    const [name, , gid] = line.split(':');
    if (name && gid && Number(gid) !== 0 && Number(gid) !== process.getgid?.()) return { name, gid: Number(gid) };
  }
  throw new Error('/etc/group lists no group to test with');
}

describe('who may connect to the plugin socket', () => {
  test("the sidecar's user creates it under umask 022: Kong's user, in the socket's group, is answered; a user outside it gets EACCES", async (t) => {
    mustBeRoot();
    // As the deployments run it, with the default SOCKET_MODE.
    const server = sidecar(t, {}, SIDECAR);
    await serving(server);
    const kong = await callAs(KONG, server.socketPath, 'plugin.GetPluginInfo', 'token-issuer');
    assert.equal(kong.error, undefined, "Kong's user is answered");
    assert.equal(kong.result?.Name, 'token-issuer');
    const stranger = await callAs(STRANGER, server.socketPath, 'plugin.GetPluginInfo', 'token-issuer');
    assert.match(stranger.error ?? '', /EACCES/);
    assert.deepEqual(ownership(server.socketPath), { mode: '660', uid: SIDECAR.uid, gid: SIDECAR.gid });
  });

  test('SOCKET_GROUP gives the socket to a group, by number or by a name from /etc/group; SOCKET_MODE sets its mode', async (t) => {
    mustBeRoot();
    const byNumber = sidecar(t, { SOCKET_GROUP: String(OTHER_GID), SOCKET_MODE: '0640' });
    await serving(byNumber);
    assert.deepEqual(ownership(byNumber.socketPath), { mode: '640', uid: 0, gid: OTHER_GID });
    const group = someOtherGroup();
    const byName = sidecar(t, { SOCKET_GROUP: group.name });
    await serving(byName);
    assert.deepEqual(ownership(byName.socketPath), { mode: '660', uid: 0, gid: group.gid });
  });

  test('a sidecar outside SOCKET_GROUP stops at start with exit 1 and a line saying why, and leaves no socket', async (t) => {
    mustBeRoot();
    const server = sidecar(t, { SOCKET_GROUP: String(OTHER_GID) }, SIDECAR);
    await assert.rejects(server.start(), /exited with 1/);
    const lastLine = server.capturedOutput.trimEnd().split('\n').pop();
    assert.equal(
      lastLine,
      `kong-auth-sidecar: cannot give the plugin socket ${server.socketPath} to group ${OTHER_GID} (SOCKET_GROUP): this process is not a member of that group (EPERM)`,
    );
    assert.equal(existsSync(server.socketPath), false);
    assert.equal(existsSync(`${server.socketPath}.new`), false, 'nor the socket it bound beside its path');
  });

  for (const [variable, value, allowed] of [
    ['SOCKET_MODE', '0666', 'an octal mode giving the owner read-write and others no write, e.g. 0660'],
    ['SOCKET_MODE', '0662', 'an octal mode giving the owner read-write and others no write, e.g. 0660'],
    ['SOCKET_MODE', '0777', 'an octal mode giving the owner read-write and others no write, e.g. 0660'],
    ['SOCKET_MODE', '0460', 'an octal mode giving the owner read-write and others no write, e.g. 0660'],
    ['SOCKET_MODE', '4660', 'an octal mode giving the owner read-write and others no write, e.g. 0660'],
    ['SOCKET_MODE', 'rw-rw----', 'an octal mode giving the owner read-write and others no write, e.g. 0660'],
    ['SOCKET_GROUP', 'no-such-group', 'a numeric gid or a group name from /etc/group'],
  ] as const) {
    test(`${variable}=${value} stops the start with exit 1 and one line naming it`, async (t) => {
      const server = sidecar(t, { [variable]: value });
      await assert.rejects(server.start(), /exited with 1/);
      assert.equal(server.capturedOutput, `kong-auth-sidecar: invalid ${variable}=${JSON.stringify(value)}: ${allowed}\n`);
    });
  }
});
