import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { grantScopes, parseScopeParameter, scopesFromTags } from '../../lib/tokens/scopes.js';

describe('scopes for issued tokens', () => {
  test('a scope parameter is space-delimited and case-sensitive; duplicates collapse in first-seen order', () => {
    assert.deepEqual(parseScopeParameter('orders.read'), ['orders.read']);
    assert.deepEqual(parseScopeParameter('b a b A'), ['b', 'a', 'A']);
    assert.deepEqual(parseScopeParameter("urn:x!#$%&'()*+,-./[]^_`{|}~"), ["urn:x!#$%&'()*+,-./[]^_`{|}~"]);
  });

  test('a scope parameter that is not scope-tokens separated by single spaces is malformed', () => {
    for (const value of ['', ' ', 'a  b', ' a', 'a ', 'a"b', 'a\\b', 'a\tb', 'é', 'a\u007f']) {
      assert.equal(parseScopeParameter(value), undefined, JSON.stringify(value));
    }
  });

  test('allowed scopes are the tags with the prefix, without it; other tags and malformed rests are ignored', () => {
    assert.deepEqual(scopesFromTags(['scope:orders.read', 'team-a', 'scope:', 'scope:a b', 'SCOPE:x', 'scope:orders.read', 7], 'scope:'), [
      'orders.read',
    ]);
    assert.deepEqual(scopesFromTags(['perm/a', 'scope:b'], 'perm/'), ['a']);
    assert.deepEqual(scopesFromTags(null, 'scope:'), []);
    assert.deepEqual(scopesFromTags(undefined, 'scope:'), []);
  });

  test("one tags array's scopes are worked out once per prefix, and cannot be changed through the answer", () => {
    const tags = ['scope:a', 'perm/b'];
    const first = scopesFromTags(tags, 'scope:');
    assert.equal(scopesFromTags(tags, 'scope:'), first, 'the same answer for the same array');
    assert.deepEqual(scopesFromTags(tags, 'perm/'), ['b'], 'another prefix is worked out anew');
    assert.deepEqual(scopesFromTags(['scope:a', 'perm/b'], 'scope:'), ['a']);
    assert.ok(Object.isFrozen(first));
  });

  test('a request is granted whole when every scope is allowed, else refused naming what is not', () => {
    assert.deepEqual(grantScopes(['a', 'b', 'c'], ['c', 'a'], ['b']), { granted: ['c', 'a'] });
    assert.deepEqual(grantScopes(['a'], ['a', 'x', 'y'], []), { refused: ['x', 'y'] });
    assert.deepEqual(grantScopes([], ['a'], []), { refused: ['a'] });
  });

  test('without a request: the allowed defaults, or every allowed scope when there are no defaults', () => {
    assert.deepEqual(grantScopes(['a', 'b', 'c'], undefined, ['c', 'x', 'a', 'c']), { granted: ['c', 'a'] });
    assert.deepEqual(grantScopes(['a', 'b'], undefined, []), { granted: ['a', 'b'] });
    assert.deepEqual(grantScopes([], undefined, ['a']), { granted: [] });
  });
});
