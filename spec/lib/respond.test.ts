import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tokenAnswerBody } from '../../lib/access/respond.js';

const token = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLV9fLQ';

test('the token answer is the JSON of its fields, in RFC 6749 order, without a scope when none is announced', () => {
  const body = tokenAnswerBody(token, 300);
  assert.equal(body, JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 300 }));
});

test('the announced scope is escaped as JSON, whatever characters a tag carries', () => {
  const scope = 'orders.read say"hi" back\\slash tab\t \u2028 ü';
  const body = tokenAnswerBody(token, 60, scope);
  assert.equal(body, JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 60, scope }));
  assert.equal((JSON.parse(body) as { scope: string }).scope, scope);
});
