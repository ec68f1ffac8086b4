import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gateHeaders as gateHeadersOf, identityHeaders } from '../../lib/access/gate.js';
import type { KongConsumer } from '../../lib/credentials/admin-client.js';

const gateHeaders = (incoming: Record<string, string[]>, who: KongConsumer, claims: Record<string, unknown>, requestId: string) =>
  gateHeadersOf(incoming, identityHeaders(incoming, who, claims, requestId));

const IDENTITY = [
  'x-consumer-id',
  'x-consumer-username',
  'x-consumer-custom-id',
  'x-credential-identifier',
  'x-anonymous-consumer',
  'x-token-id',
  'x-token-scopes',
];
const consumer = { id: '6f1c8a52-0c3e-4b8e-9d7a-2f5e1b0c4d3a', username: 'alice' };

describe('gateHeaders: the one set_headers table of a gated request', () => {
  test('clears every identity header in dash and underscore spelling even when the client sent none', () => {
    const headers = gateHeaders({}, { id: consumer.id, custom_id: 'c-1' }, {}, 'req-1');
    for (const name of IDENTITY.filter((n) => n !== 'x-consumer-id' && n !== 'x-consumer-username'))
      assert.deepEqual(headers[name], [], name);
    for (const name of IDENTITY) assert.deepEqual(headers[name.replace(/-/g, '_')], [], name);
    assert.equal(headers['x-consumer-id'], consumer.id);
    assert.equal(headers['x-consumer-username'], 'c-1');
    assert.equal(headers['x-request-id'], 'req-1');
  });

  test('clears mixed spellings the client sent; other headers are left alone', () => {
    const headers = gateHeaders(
      { 'x-consumer_custom-id': ['root'], 'x_token-scopes': ['admin'], x_other_header: ['kept'], 'x-request-id': ['r'] },
      consumer,
      {},
      'r',
    );
    assert.deepEqual(headers['x-consumer_custom-id'], []);
    assert.deepEqual(headers['x_token-scopes'], []);
    assert.equal(headers.x_other_header, undefined);
    assert.equal(headers['x-request-id'], undefined, "the client's request id passes as it is");
  });

  test('sets the token id and scopes from the verified claims (scope string or scp array)', () => {
    assert.equal(gateHeaders({}, consumer, { jti: 'j-1', scope: 'a b' }, 'r')['x-token-scopes'], 'a b');
    const fromScp = gateHeaders({}, consumer, { jti: 'j-1', scp: ['a', 'b'] }, 'r');
    assert.equal(fromScp['x-token-scopes'], 'a b');
    assert.equal(fromScp['x-token-id'], 'j-1');
  });
});
