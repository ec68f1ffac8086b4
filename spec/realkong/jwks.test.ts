import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseKongYml } from '../../kong/stand-in/kong-yml.js';
import { RealKongStack } from '../support/realkong-stack.js';
import { RealKong } from '../support/realkong.js';
import { keyPair, privatePem, PRIVATE_MEMBERS } from '../support/signing-keys.js';

describe("Kong's own bridge (realkong): the JWKS route", () => {
  let stack: RealKongStack;
  let kong: RealKong;

  before(async () => {
    stack = await RealKongStack.startWithKeys(
      parseKongYml('_format_version: "3.0"\n'),
      { '/.well-known/jwks.json': [{ name: 'token-issuer', config: { mode: 'jwks' } }] },
      [
        { file: 'ec.pem', alg: 'ES256', state: 'current', kid: 'ec-1', content: privatePem(keyPair('ES256').privateKey) },
        { file: 'rs.pem', alg: 'RS256', state: 'next', kid: 'rs-1', content: privatePem(keyPair('RS256').privateKey) },
      ],
    );
    kong = stack.kong;
  });
  after(() => stack?.stop());

  test('GET: the public set as application/jwk-set+json with Cache-Control and ETag; If-None-Match: 304 without a body; HEAD: no body', async () => {
    await kong.request('/.well-known/jwks.json'); // starts the instance
    const res = await kong.request('/.well-known/jwks.json');
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['content-type'], 'application/jwk-set+json');
    assert.equal(res.headers['cache-control'], 'public, max-age=300');
    assert.match(String(res.headers['etag']), /^"[\w-]{43}"$/);
    assert.equal(res.headers['content-length'], String(Buffer.byteLength(res.body)));
    const { keys } = res.json<{ keys: Array<Record<string, string>> }>();
    assert.deepEqual(
      keys.map((key) => [key.kid, key.alg, key.kty, key.use]),
      [
        ['ec-1', 'ES256', 'EC', 'sig'],
        ['rs-1', 'RS256', 'RSA', 'sig'],
      ],
    );
    for (const member of PRIVATE_MEMBERS) assert.doesNotMatch(res.body, new RegExp(`"${member}":`), member);
    // get_headers, then get_method; the exit ends the event.
    assert.deepEqual(res.rpc, ['HandleEvent', 'StepMultiMap', 'Step']);

    const cached = await kong.request('/.well-known/jwks.json', [['If-None-Match', `W/${String(res.headers['etag'])}`]]);
    assert.equal(cached.status, 304);
    assert.equal(cached.body, '');
    assert.equal(cached.headers['etag'], res.headers['etag']);
    assert.equal(cached.headers['cache-control'], 'public, max-age=300');

    const head = await kong.request('/.well-known/jwks.json', [], 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(head.headers['etag'], res.headers['etag']);
    assert.equal(head.headers['content-length'], res.headers['content-length'], "nginx keeps GET's Content-Length");

    const post = await kong.request('/.well-known/jwks.json', [], 'POST');
    assert.equal(post.status, 405);
    assert.equal(post.headers['allow'], 'GET, HEAD');
    assert.doesNotMatch(await kong.log(), /\[error\]/);
  });
});
