import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFile } from 'node:child_process';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { Service } from 'kubernetes-models/v1/Service';
import { Pod } from 'kubernetes-models/v1/Pod';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { CONFIG_VARIABLES } from '../../lib/config.js';
import { configValidator, OUR_PLUGINS, queryPluginInfo, type PluginInfo } from '../../kong/stand-in/kong-harness.js';
import { NODE_FLAGS } from '../../kong/stand-in/plugin-server-process.js';
import { loadKongYml } from '../../kong/stand-in/kong-yml.js';
import { parseLuaReturn } from '../../kong/stand-in/lua-table.js';
import { PROJECT_ROOT, runCli, runScript } from '../../kong/stand-in/plugin-server-process.js';

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
interface EnvVar {
  name: string;
  value?: string;
}

const read = (path: string) => readFileSync(join(PROJECT_ROOT, path), 'utf8');
const yamlDocs = (path: string): Doc[] =>
  parseAllDocuments(read(path)).map((d) => {
    if (d.errors.length > 0) throw new Error(`${path}: ${d.errors[0]?.message}`);
    return d.toJS() as Doc;
  });

function filesUnder(dir: string): string[] {
  return readdirSync(join(PROJECT_ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    return statSync(join(PROJECT_ROOT, path)).isDirectory() ? filesUnder(path) : [path];
  });
}

const envOf = (container: Doc): Record<string, string | undefined> =>
  Object.fromEntries((container.env as EnvVar[]).map((e) => [e.name, e.value]));
const SOCKET_NAME = 'js_pluginserver.sock';

/** What Kong is told, per plugin: socket and the file its `cat` query_cmd reads. */
function kongPluginServers(
  env: Record<string, string | undefined>,
  prefix = 'KONG_PLUGINSERVER_',
): Record<string, { socket?: string; queryFile?: string }> {
  const names = String(env[`${prefix}NAMES`] ?? env.pluginserver_names).split(',');
  return Object.fromEntries(
    names.map((name) => {
      const key = name.replace(/-/g, '_');
      const get = (suffix: string) => env[`${prefix}${key.toUpperCase()}_${suffix.toUpperCase()}`] ?? env[`pluginserver_${key}_${suffix}`];
      return [name, { socket: get('socket'), queryFile: get('query_cmd')?.replace(/^cat /, '') }];
    }),
  );
}

async function dumpedPluginNames(): Promise<string[]> {
  return (JSON.parse((await runCli(['--dump-all-plugins'])).stdout) as PluginInfo[]).map((p) => p.Name);
}

function checkSidecarWiring(where: string, kongEnv: Record<string, string | undefined>, sidecar: Doc, names: string[]): void {
  const ours = envOf(sidecar);
  const socket = `${ours.KONG_PREFIX}/${SOCKET_NAME}`;
  const servers = kongPluginServers(kongEnv);
  assert.deepEqual(Object.keys(servers), names, `${where}: one pluginserver entry per plugin`);
  for (const [name, server] of Object.entries(servers)) {
    assert.equal(server.socket, socket, `${where}: ${name} socket is where we listen`);
    assert.equal(server.queryFile, `${ours.PLUGIN_INFO_DIR}/${name}.json`, `${where}: ${name} query_cmd reads the file we publish`);
  }
  const plugins = String(kongEnv.KONG_PLUGINS ?? kongEnv.plugins).split(',');
  assert.deepEqual(plugins, ['bundled', ...names], `${where}: KONG_PLUGINS`);
  for (const name of Object.keys(ours))
    assert.ok((CONFIG_VARIABLES as readonly string[]).includes(name), `${where}: ${name} is a variable our config reads`);
}

// The sidecar image's user and group (distroless nonroot); Kong's image runs as kong, uid 1000 gid 1000.
const SIDECAR_IMAGE_ID = 65532;
const KONG_IMAGE_GID = 1000;

/**
 * Connecting to a Unix socket takes write permission, and Kong runs as another user than the sidecar:
 * the socket is group read-write (SOCKET_MODE) and Kong is in the group the socket gets.
 */
function checkSocketAccess(
  where: string,
  sidecarEnv: Record<string, string | undefined>,
  socketGroup: number | undefined,
  kongGroups: number[],
): void {
  assert.equal(sidecarEnv.SOCKET_MODE, '0660', `${where}: SOCKET_MODE`);
  assert.ok(
    socketGroup !== undefined && kongGroups.includes(socketGroup),
    `${where}: Kong (groups ${kongGroups.join(', ')}) is in the socket's group ${socketGroup}`,
  );
}

/** A pod: fsGroup makes the shared emptyDir that group's (setgid) and adds it to every container's groups. */
function checkPodSocketAccess(where: string, podSecurity: Doc | undefined, sidecar: Doc, kongSecurity: Doc | undefined): void {
  assert.equal(sidecar.securityContext.runAsUser, SIDECAR_IMAGE_ID, `${where}: the sidecar runs as the image's user`);
  const fsGroup = podSecurity?.fsGroup as number | undefined;
  const kongGroups = [
    kongSecurity?.runAsGroup ?? podSecurity?.runAsGroup ?? KONG_IMAGE_GID,
    fsGroup,
    ...(podSecurity?.supplementalGroups ?? []),
  ];
  checkSocketAccess(where, envOf(sidecar), Number(envOf(sidecar).SOCKET_GROUP ?? fsGroup), kongGroups);
}

function checkProbes(where: string, sidecar: Doc): void {
  const port = Number(envOf(sidecar).STATUS_PORT ?? 3000);
  assert.equal(sidecar.livenessProbe.httpGet.path, '/health', where);
  assert.equal(sidecar.readinessProbe.httpGet.path, '/health/ready', where);
  assert.equal(sidecar.startupProbe.httpGet.path, '/health/ready', where);
  for (const probe of [sidecar.livenessProbe, sidecar.readinessProbe, sidecar.startupProbe])
    assert.equal(probe.httpGet.port, port, `${where}: probe port`);
}

/**
 * The key directory comes from one Secret every pod mounts, read-only, at SIGNING_KEYS_DIR, without subPath
 * (a subPath mount never sees the Secret's updates); group-readable, for the pod's fsGroup.
 */
function checkKeySecret(where: string, sidecar: Doc, volumes: Doc[]): void {
  const dir = envOf(sidecar).SIGNING_KEYS_DIR;
  const mount = (sidecar.volumeMounts as Doc[]).find((m) => m.mountPath === dir);
  assert.ok(dir && mount, `${where}: SIGNING_KEYS_DIR is a mount of the sidecar`);
  assert.equal(mount.readOnly, true, `${where}: read-only`);
  assert.equal(mount.subPath, undefined, `${where}: no subPath`);
  const volume = volumes.find((v) => v.name === mount.name);
  assert.equal(volume?.secret?.secretName, 'kong-auth-signing-keys', `${where}: a Secret volume`);
  assert.equal(volume?.secret?.defaultMode, 0o440, `${where}: readable by the owner and the fsGroup only`);
}

describe('deployment files: Docker, compose, Kubernetes, Helm, VM', () => {
  test('every YAML and JSON file in docker/ and kong/ parses', () => {
    const files = [...filesUnder('docker'), ...filesUnder('kong')].filter((f) => /\.(ya?ml|json)$/.test(f));
    assert.ok(files.length >= 3);
    for (const file of files)
      assert.doesNotThrow(() => (file.endsWith('.json') ? JSON.parse(read(file)) : yamlDocs(file)), relative('.', file));
  });

  test('compose: Kong is told our socket and plugin-info files, waits for our readiness, loads our plugins', async () => {
    const [compose] = yamlDocs('docker/compose.yml');
    const kong = compose!.services.kong;
    const sidecar = compose!.services['kong-auth-sidecar'];
    const names = await dumpedPluginNames();
    checkSidecarWiring(
      'compose',
      kong.environment,
      { env: Object.entries(sidecar.environment).map(([name, value]) => ({ name, value: String(value) })) },
      names,
    );
    assert.equal(kong.depends_on['kong-auth-sidecar'].condition, 'service_healthy');
    const volume = (service: Doc) => (service.volumes as string[]).find((v) => v.startsWith('kong-socket:'));
    assert.equal(volume(kong), volume(sidecar), 'the same volume at the same path');
    assert.equal(volume(kong), `kong-socket:${sidecar.environment.KONG_PREFIX}`);
    assert.match(read('docker/Dockerfile'), /\/health\/ready/, 'the image health check is our readiness');
    // Without `user:` each runs as its image's user; the socket gets the sidecar's primary group.
    const [, sidecarGid = SIDECAR_IMAGE_ID] = String(sidecar.user ?? '')
      .split(':')
      .map(Number);
    const kongGroups = [
      Number(String(kong.user ?? '').split(':')[1] ?? KONG_IMAGE_GID),
      ...((kong.group_add ?? []) as string[]).map(Number),
    ];
    checkSocketAccess('compose', sidecar.environment, Number(sidecar.environment.SOCKET_GROUP ?? sidecarGid), kongGroups);
  });

  test('compose: the sidecar reads SIGNING_KEYS_DIR from a volume the one-shot signing-keys service filled, read-only', () => {
    const [compose] = yamlDocs('docker/compose.yml');
    const { 'kong-auth-sidecar': sidecar, 'signing-keys': maker } = compose!.services;
    const dir = sidecar.environment.SIGNING_KEYS_DIR as string;
    assert.ok((sidecar.volumes as string[]).includes(`signing-keys:${dir}:ro`));
    assert.ok((maker.volumes as string[]).includes(`signing-keys:${dir}`));
    assert.equal(maker.environment.SIGNING_KEYS_DIR, dir);
    assert.equal(maker.image, sidecar.image, 'the same image: its keys commands');
    assert.equal(sidecar.depends_on['signing-keys'].condition, 'service_completed_successfully');
    assert.ok('signing-keys' in compose!.volumes);
    // The volume starts as a copy of the image's directory: the image's user owns it and writes the keys.
    assert.ok(read('docker/Dockerfile').includes(`/rootfs${dir}`));
  });

  test("compose: the signing-keys service's script makes a current key once, with the keys commands", async (t) => {
    const [compose] = yamlDocs('docker/compose.yml');
    const maker = compose!.services['signing-keys'];
    assert.deepEqual(maker.entrypoint, ['/nodejs/bin/node', '-e']);
    const dir = mkdtempSync(join(tmpdir(), 'compose-keys-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    // The script as the image runs it: from /app, whose dist/lib/cli.js is this build's.
    const runScriptOnce = () =>
      new Promise<number | null>((resolve) =>
        execFile(process.execPath, ['-e', maker.command[0]], { cwd: PROJECT_ROOT, env: { SIGNING_KEYS_DIR: dir } }, (err) =>
          resolve(err ? ((err as { code?: number }).code ?? 1) : 0),
        ),
      );
    assert.equal(await runScriptOnce(), 0);
    const manifest = JSON.parse(readFileSync(join(dir, 'keys.json'), 'utf8')) as { keys: Array<{ state: string; alg: string }> };
    assert.deepEqual(
      manifest.keys.map((k) => [k.alg, k.state]),
      [['ES256', 'current']],
    );
    assert.equal(await runScriptOnce(), 0);
    assert.equal(JSON.parse(readFileSync(join(dir, 'keys.json'), 'utf8')).keys.length, 1, 'a second run leaves the directory as it is');
  });

  test('Kubernetes: wiring, probes, grace period ≥ SHUTDOWN_TIMEOUT_MS + preStop, read-only root; valid against the Kubernetes schemas', async () => {
    const [deployment, service] = yamlDocs('kong/kubernetes/deployment.yaml');
    assert.doesNotThrow(() => new Deployment(deployment as never).validate());
    assert.doesNotThrow(() => new Service(service as never).validate());
    const pod = deployment!.spec.template.spec;
    const sidecar = pod.initContainers.find((c: Doc) => c.name === 'kong-auth-sidecar');
    const kong = pod.containers.find((c: Doc) => c.name === 'kong');
    assert.equal(sidecar.restartPolicy, 'Always', 'a native sidecar: starts before Kong, stops after it');
    checkSidecarWiring('deployment', envOf(kong), sidecar, await dumpedPluginNames());
    checkProbes('deployment', sidecar);
    const shutdownSeconds = Number(envOf(sidecar).SHUTDOWN_TIMEOUT_MS) / 1000;
    assert.ok(pod.terminationGracePeriodSeconds >= shutdownSeconds + sidecar.lifecycle.preStop.sleep.seconds);
    assert.equal(sidecar.securityContext.readOnlyRootFilesystem, true);
    const mount = (c: Doc) => c.volumeMounts.find((m: Doc) => m.name === 'kong-socket').mountPath;
    assert.equal(mount(sidecar), envOf(sidecar).KONG_PREFIX);
    assert.equal(mount(kong), mount(sidecar));
    checkPodSocketAccess('deployment', pod.securityContext, sidecar, kong.securityContext);
    checkKeySecret('deployment', sidecar, pod.volumes);
  });

  test("Helm values for Kong's chart: the same wiring, and a valid native sidecar container", async () => {
    const [values] = yamlDocs('kong/helm/values.yaml');
    const sidecar = values!.deployment.initContainers.find((c: Doc) => c.name === 'kong-auth-sidecar');
    checkSidecarWiring('helm', values!.env, sidecar, await dumpedPluginNames());
    checkProbes('helm', sidecar);
    assert.ok(values!.terminationGracePeriodSeconds >= Number(envOf(sidecar).SHUTDOWN_TIMEOUT_MS) / 1000);
    assert.equal(values!.deployment.userDefinedVolumeMounts[0].mountPath, envOf(sidecar).KONG_PREFIX);
    // The chart's pod securityContext is `securityContext`, Kong's container's `containerSecurityContext`.
    checkPodSocketAccess('helm', values!.securityContext, sidecar, values!.containerSecurityContext);
    checkKeySecret('helm', sidecar, values!.deployment.userDefinedVolumes);
    assert.doesNotThrow(() =>
      new Pod({
        metadata: { name: 'kong' },
        spec: {
          containers: [{ name: 'kong', image: 'kong:3.9' }],
          initContainers: [sidecar],
          volumes: values!.deployment.userDefinedVolumes,
        },
      } as never).validate(),
    );
  });

  test('VM: kong.conf sockets and query commands match the systemd unit and the files make build writes', async () => {
    const conf = Object.fromEntries(
      read('kong/kong.conf')
        .split('\n')
        .filter((l) => /^\w/.test(l))
        .map((l) => l.split(/\s*=\s*/, 2) as [string, string]),
    );
    const unit = read('kong/systemd/kong-auth-sidecar.service');
    const prefix = /--kong-prefix (\S+)/.exec(unit)?.[1];
    const servers = kongPluginServers(conf);
    const names = await dumpedPluginNames();
    assert.deepEqual(Object.keys(servers), names);
    for (const [name, server] of Object.entries(servers)) {
      assert.equal(server.socket, `${prefix}/${SOCKET_NAME}`);
      assert.equal(server.queryFile, `/opt/kong-auth-sidecar/dist/plugin-info/${name}.json`);
    }
    assert.ok(
      unit.includes(`ExecStart=/usr/bin/node ${NODE_FLAGS.join(' ')} /opt/kong-auth-sidecar/dist/lib/cli.js `),
      'systemd starts node with the deployed flags',
    );
    assert.ok(
      read('kong/kong.conf').includes(`start_cmd = /usr/bin/node ${NODE_FLAGS.join(' ')} /opt/kong-auth-sidecar/dist/lib/cli.js `),
      'kong.conf start_cmd too',
    );
    for (const [, name] of unit.matchAll(/Environment=(\w+)=/g))
      assert.ok((CONFIG_VARIABLES as readonly string[]).includes(name as string), name);
  });

  test('the Dockerfile builds with `make build` and starts the CLI package.json names', () => {
    const dockerfile = read('docker/Dockerfile');
    const bin = (JSON.parse(read('package.json')) as { bin: Record<string, string> }).bin['kong-auth-sidecar'];
    assert.match(dockerfile, /^RUN make build$/m);
    assert.match(read('Makefile'), /^build: install\n/m);
    assert.ok(
      dockerfile.includes(`\nENTRYPOINT ${JSON.stringify(['/nodejs/bin/node', ...NODE_FLAGS, bin]).replaceAll(',', ', ')}\n`),
      'the image starts node with the deployed flags',
    );
    assert.match(dockerfile, /^FROM gcr\.io\/distroless\/nodejs22-debian12:nonroot$/m);
    assert.match(dockerfile, /^VOLUME \["\/kong-socket"\]$/m);
    // A named volume starts as a copy of the image's directory: it must be the image user's to bind the socket in.
    assert.match(dockerfile, /^RUN mkdir -p \/rootfs\/kong-socket \/rootfs\/etc\/kong-auth-sidecar\/keys$/m);
    assert.match(dockerfile, new RegExp(`^COPY --from=build --chown=${SIDECAR_IMAGE_ID}:${SIDECAR_IMAGE_ID} /rootfs/ /$`, 'm'));
  });

  test('kong.yml validates against the dumped schemas, as `make validate-config` checks it', async () => {
    const infos = Object.fromEntries(await Promise.all(OUR_PLUGINS.map(async (n) => [n, await queryPluginInfo(n)] as const)));
    const validate = configValidator(infos);
    const yml = loadKongYml(join(PROJECT_ROOT, 'kong.yml'));
    const ours = yml.services
      .flatMap((s) => s.routes.flatMap((r) => r.plugins))
      .filter((p) => (OUR_PLUGINS as readonly string[]).includes(p.name));
    assert.ok(
      ours.some((p) => p.config?.mode === 'gate'),
      'kong.yml shows a gate route',
    );
    for (const plugin of ours) validate(plugin);
  });

  test('make validate-config: kong.yml passes; a discovery issuer that no token route issues fails, naming the route', async (t) => {
    const validateConfig = join(PROJECT_ROOT, 'dist/kong/stand-in/validate-config.js');
    const ok = await runScript(validateConfig, [join(PROJECT_ROOT, 'kong.yml')]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^ok {3}routes\.oauth-metadata token-issuer$/m);
    const dir = mkdtempSync(join(tmpdir(), 'validate-config-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'kong.yml');
    writeFileSync(
      file,
      read('kong.yml').replace(
        'issuer: https://auth.example.com\n              token_endpoint',
        'issuer: https://auth.example.com/\n              token_endpoint',
      ),
    );
    const bad = await runScript(validateConfig, [file]);
    assert.equal(bad.code, 1);
    assert.equal(
      bad.stderr,
      'FAIL routes.oauth-metadata token-issuer: metadata issuer "https://auth.example.com/" is the issuer of no token route in this file\n',
    );
  });

  test('kong/schemas/<plugin>/schema.lua is what the build generates and matches the dumped schema field for field', async () => {
    for (const name of OUR_PLUGINS) {
      const committed = read(`kong/schemas/${name}/schema.lua`);
      assert.equal(committed, (await runCli(['--dump-lua-schema', name])).stdout, `${name}: regenerate with make build`);
      const lua = parseLuaReturn(committed) as Doc;
      const info = await queryPluginInfo(name);
      assert.equal(lua.name, name);
      const config = lua.fields.find((f: Doc) => 'config' in f).config;
      assert.equal(config.type, 'record');
      const jsonFields = (info.Schema as Doc).fields[0].config.fields as Doc[];
      assert.deepEqual(config.fields, jsonFields);
    }
  });
});
