import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { configValidator, OUR_PLUGINS, queryPluginInfo, type PluginInfo } from '../../kong/stand-in/kong-harness.js';
import { configErrors, validatePluginConfig, validatePluginInfo } from '../../kong/stand-in/kong-schema.js';
import { loadKongYml } from '../../kong/stand-in/kong-yml.js';
import { PluginServerProcess, PROJECT_ROOT, runCli } from '../../kong/stand-in/plugin-server-process.js';

describe("plugin info for Kong's query_cmd and the config schema", () => {
  test('--dump-all-plugins prints both plugins as one JSON array, nothing else, and starts nothing', async () => {
    const prefix = mkdtempSync(join(tmpdir(), 'kas-dump-'));
    try {
      const { code, stdout, stderr } = await runCli(['--dump-all-plugins', '--kong-prefix', prefix], {
        KONG_ADMIN_TIMEOUT_MS: 'not-validated-here',
      });
      assert.equal(code, 0);
      assert.equal(stderr, '');
      const infos = JSON.parse(stdout) as PluginInfo[];
      assert.deepEqual(
        infos.map((i) => i.Name),
        [...OUR_PLUGINS],
      );
      for (const info of infos) assert.deepEqual(validatePluginInfo(info), []);
      assert.equal(existsSync(join(prefix, 'js_pluginserver.sock')), false);
    } finally {
      rmSync(prefix, { recursive: true, force: true });
    }
  });

  test('--dump-plugin-info prints a one-element JSON array equal to the static file make build writes', async () => {
    const all = JSON.parse((await runCli(['--dump-all-plugins'])).stdout) as PluginInfo[];
    for (const [index, name] of OUR_PLUGINS.entries()) {
      const { code, stdout } = await runCli(['--dump-plugin-info', name]);
      assert.equal(code, 0);
      const dumped = JSON.parse(stdout) as PluginInfo[];
      assert.equal(dumped.length, 1);
      assert.deepEqual(dumped[0], all[index]);
      assert.deepEqual(validatePluginInfo(dumped[0]), []);
      const file = JSON.parse(readFileSync(join(PROJECT_ROOT, 'dist', 'plugin-info', `${name}.json`), 'utf8')) as unknown;
      assert.deepEqual(file, dumped);
      // After Kong's auth plugins; the validator also before acl (950) and rate-limiting (910).
      assert.equal(dumped[0]!.Priority, name === 'token-validator' ? 1000 : 900, name);
      assert.deepEqual(dumped[0]!.Phases, ['access']);
    }
  });

  test('--dump-plugin-info for an unknown plugin exits 1 with nothing on stdout', async () => {
    const { code, stdout, stderr } = await runCli(['--dump-plugin-info', 'nope']);
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.match(stderr, /no plugin named "nope"; plugins: token-issuer, token-validator, token-revocation/);
  });

  test('the query command and the server never load ts-node, TypeScript or kong-pdk (kong-pdk 0.6.0 loads ts-node at require time)', async () => {
    const dump = await runCli(['--dump-all-plugins'], { NODE_DEBUG: 'module' });
    assert.match(dump.stderr, /MODULE \d+:/, 'module tracing is on');
    assert.doesNotMatch(dump.stderr, /ts-node|typescript|kong-pdk/, 'the query command loads no PDK at all');
    const server = new PluginServerProcess({ NODE_DEBUG: 'module' });
    try {
      await server.start();
      assert.match(server.capturedOutput, /MODULE \d+:.*pino/, 'module tracing is on');
      assert.doesNotMatch(server.capturedOutput, /ts-node|typescript|kong-pdk/, 'the server uses its own PDK object (lib/pdk.ts)');
      assert.equal(await server.stop(), 0);
    } finally {
      await server.stop();
      server.removePrefix();
    }
  });

  test('every plugin config in kong.yml validates against the dumped schema', async () => {
    const infos = Object.fromEntries(await Promise.all(OUR_PLUGINS.map(async (name) => [name, await queryPluginInfo(name)] as const)));
    const yml = loadKongYml(join(PROJECT_ROOT, 'kong.yml'));
    const validate = configValidator(infos);
    const ours = [...yml.services.flatMap((s) => [...s.plugins, ...s.routes.flatMap((r) => r.plugins)]), ...yml.plugins].filter((p) =>
      (OUR_PLUGINS as readonly string[]).includes(p.name),
    );
    assert.ok(ours.length >= 2);
    for (const plugin of ours) assert.doesNotThrow(() => validate(plugin), plugin.name);
  });

  test('Kong fills the token-issuer defaults', async () => {
    const checked = validatePluginConfig(await queryPluginInfo('token-issuer'), {});
    assert.ok(checked.ok);
    assert.deepEqual(checked.config, {
      ttl_seconds: 900,
      audience: [],
      key_claim_name: 'key',
      verify_consumer: true,
      provision_credentials: true,
      rate_limit_per_minute: 0,
      request_id_source: 'header',
      scope_tag_prefix: 'scope:',
      default_scopes: [],
      scope_query_parameter: true,
      client_credentials_only: false,
      mode: 'token',
      max_age_seconds: 300,
      scopes_supported: [],
      algorithm: 'HS256',
      token_profile: 'jwt',
    });
  });

  test('a bad token-issuer config in kong.yml is refused as Kong refuses it', async () => {
    const info = await queryPluginInfo('token-issuer');
    const errors = (config: Record<string, unknown>) => configErrors(info, config);
    assert.deepEqual(errors({ ttl_seconds: 10 }), { ttl_seconds: 'value should be between 60 and 86400' });
    assert.deepEqual(errors({ ttl_seconds: 'long' }), { ttl_seconds: 'expected an integer' });
    assert.deepEqual(errors({ verify_consumer: 'yes' }), { verify_consumer: 'expected a boolean' });
    assert.deepEqual(errors({ request_id_source: 'client' }), { request_id_source: 'expected one of: header, kong' });
    assert.ok(errors({ key_claim_name: 'sub' }).key_claim_name);
    assert.deepEqual(errors({ ttl: 900 }), { ttl: 'unknown field' });
    assert.deepEqual(errors({ rate_limit_per_minute: -1 }), { rate_limit_per_minute: 'value should be between 0 and 1000000' });
    assert.deepEqual(errors({ algorithm: 'none' }), { algorithm: 'expected one of: HS256, ES256, EdDSA, RS256' });
    assert.deepEqual(errors({ algorithm: 'HS512' }), { algorithm: 'expected one of: HS256, ES256, EdDSA, RS256' });
    assert.deepEqual(errors({ token_profile: 'oidc' }), { token_profile: 'expected one of: jwt, rfc9068' });
  });

  test('an RFC 9068 profile needs an issuer, an audience and an asymmetric algorithm', async () => {
    const info = await queryPluginInfo('token-issuer');
    const errors = (config: Record<string, unknown>) => configErrors(info, config);
    const because = "failed conditional validation given value of field 'config.token_profile'";
    const complete = { token_profile: 'rfc9068', algorithm: 'ES256', issuer: 'https://issuer.test', audience: ['api'] };
    assert.ok(validatePluginConfig(info, complete).ok);
    assert.deepEqual(errors({ ...complete, audience: [] }), { audience: 'length must be at least 1', '@entity': [because] });
    assert.deepEqual(errors({ ...complete, issuer: undefined }), { issuer: 'required field missing', '@entity': [because] });
    assert.deepEqual(errors({ ...complete, algorithm: 'HS256' }), {
      algorithm: 'expected one of: ES256, EdDSA, RS256',
      '@entity': [because],
    });
    assert.deepEqual(errors({ token_profile: 'rfc9068' }), {
      issuer: 'required field missing',
      audience: 'length must be at least 1',
      algorithm: 'expected one of: ES256, EdDSA, RS256',
      '@entity': [because, because, because],
    });
    // The jwt profile asks for none of them.
    assert.ok(validatePluginConfig(info, { algorithm: 'EdDSA' }).ok);
  });
});
