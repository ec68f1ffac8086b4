import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { queryPluginInfo } from '../../kong/stand-in/kong-harness.js';
import { configErrors, validatePluginConfig } from '../../kong/stand-in/kong-schema.js';

describe("token-validator's config schema, as Kong checks it", () => {
  test('Kong fills the token-validator defaults', async () => {
    const checked = validatePluginConfig(await queryPluginInfo('token-validator'), {});
    assert.ok(checked.ok);
    assert.deepEqual(checked.config, {
      mode: 'endpoint',
      audience: [],
      key_claim_name: 'key',
      clock_skew_seconds: 0,
      algorithms: ['HS256'],
      header_names: ['authorization'],
      uri_param_names: [],
      cookie_names: [],
      run_on_preflight: true,
      upstream_headers: 'sidecar',
      verify_consumer: true,
      required_scopes: [],
      scopes_match: 'all',
      check_revocation: true,
      revocation_unavailable: 'allow',
      token_types: [],
      jwks_min_cache_seconds: 300,
      jwks_max_cache_seconds: 3600,
      jwks_max_stale_seconds: 3600,
      jwks_refetch_cooldown_seconds: 30,
      jwks_max_wait_ms: 500,
    });
  });

  test('a gate config with every field set is accepted as given', async () => {
    const config = {
      mode: 'gate',
      issuer: 'https://issuer.test',
      audience: ['api-a', 'api-b'],
      key_claim_name: 'kid_key',
      clock_skew_seconds: 300,
      max_token_age_seconds: 604800,
      algorithms: ['HS256', 'ES256', 'EdDSA', 'RS256'],
      header_names: ['x-token'],
      uri_param_names: ['jwt'],
      cookie_names: ['session_token'],
      run_on_preflight: false,
      upstream_headers: 'backstop',
      verify_consumer: false,
      required_scopes: ['orders:read'],
      scopes_match: 'any',
      check_revocation: false,
      revocation_unavailable: 'deny',
      token_types: ['at+jwt', 'application/at+jwt'],
      jwks_min_cache_seconds: 60,
      jwks_max_cache_seconds: 86400,
      jwks_max_stale_seconds: 0,
      jwks_refetch_cooldown_seconds: 10,
      jwks_max_wait_ms: 2000,
    };
    const checked = validatePluginConfig(await queryPluginInfo('token-validator'), config);
    assert.ok(checked.ok, JSON.stringify(checked));
    assert.deepEqual(checked.config, config);
  });

  test('a bad token-validator config is refused as Kong refuses it, field by field', async () => {
    const info = await queryPluginInfo('token-validator');
    const errors = (config: Record<string, unknown>) => configErrors(info, config);
    assert.deepEqual(errors({ mode: 'proxy' }), { mode: 'expected one of: endpoint, gate, introspection' });
    assert.deepEqual(errors({ revocation_unavailable: 'ignore' }), { revocation_unavailable: 'expected one of: allow, deny' });
    assert.deepEqual(errors({ clock_skew_seconds: 301 }), { clock_skew_seconds: 'value should be between 0 and 300' });
    assert.deepEqual(errors({ max_token_age_seconds: 0 }), { max_token_age_seconds: 'value should be between 1 and 604800' });
    assert.deepEqual(errors({ run_on_preflight: 'no' }), { run_on_preflight: 'expected a boolean' });
    assert.deepEqual(errors({ header_names: 'authorization' }), { header_names: 'expected an array' });
    assert.deepEqual(errors({ audiences: ['api-a'] }), { audiences: 'unknown field' });
    assert.deepEqual(errors({ upstream_headers: 'kong' }), { upstream_headers: 'expected one of: sidecar, backstop' });
    assert.deepEqual(errors({ scopes_match: 'some' }), { scopes_match: 'expected one of: all, any' });
    assert.deepEqual(errors({ algorithms: ['ES256', 'none'] }), {
      algorithms: [null, 'expected one of: HS256, ES256, EdDSA, RS256, PS256'],
    });
    assert.deepEqual(errors({ algorithms: [] }), { algorithms: 'length must be at least 1' });
    assert.deepEqual(errors({ token_types: 'at+jwt' }), { token_types: 'expected an array' });
    assert.deepEqual(errors({ token_types: ['at+jwt', 9068] }), { token_types: [null, 'expected a string'] });
    assert.deepEqual(errors({ jwks_max_stale_seconds: -1 }), { jwks_max_stale_seconds: 'value should be between 0 and 604800' });
    assert.deepEqual(errors({ jwks_max_stale_seconds: 604801 }), { jwks_max_stale_seconds: 'value should be between 0 and 604800' });
    assert.deepEqual(errors({ jwks_max_stale_seconds: 1.5 }), { jwks_max_stale_seconds: 'expected an integer' });
  });

  test('jwks_uri: https (http only for a loopback host), a gate with issuer, audience and asymmetric algorithms', async () => {
    const info = await queryPluginInfo('token-validator');
    const remote = {
      mode: 'gate',
      jwks_uri: 'https://idp.example.com/realms/a/protocol/openid-connect/certs',
      issuer: 'https://idp.example.com/realms/a',
      audience: ['orders-api'],
      algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
    };
    const checked = validatePluginConfig(info, remote);
    assert.ok(checked.ok, JSON.stringify(checked));
    assert.ok(validatePluginConfig(info, { ...remote, jwks_uri: 'http://127.0.0.1:8080/jwks.json' }).ok);
    const errors = (config: Record<string, unknown>) => configErrors(info, { ...remote, ...config });
    const entity = ["failed conditional validation given value of field 'config.jwks_uri'"];
    assert.deepEqual(errors({ jwks_uri: 'http://idp.example.com/jwks' }), {
      jwks_uri: 'must be an absolute https URL (http only for localhost and 127.0.0.1)',
    });
    assert.deepEqual(errors({ issuer: undefined }), { issuer: 'required field missing', '@entity': entity });
    assert.deepEqual(errors({ audience: [] }), {
      audience: 'length must be at least 1',
      '@entity': entity,
    });
    assert.deepEqual(errors({ mode: 'endpoint' }), {
      mode: 'expected one of: gate',
      '@entity': entity,
    });
    assert.deepEqual(errors({ algorithms: ['RS256', 'HS256'] }), {
      algorithms: [null, 'expected one of: RS256, PS256, ES256, EdDSA'],
      '@entity': entity,
    });
    assert.deepEqual(
      errors({ algorithms: undefined }),
      {
        algorithms: [`expected one of: RS256, PS256, ES256, EdDSA`],
        '@entity': entity,
      },
      'the default, HS256, is not for a remote JWKS',
    );
  });
});
