/** A token's scopes: `scope`, space-delimited (RFC 9068 §2.2.3), or `scp`, a string or an array of strings. */
export function scopesOf(claims: Record<string, unknown>): string[] {
  const scopes = claims.scope ?? claims.scp;
  if (typeof scopes === 'string') return scopes.split(' ').filter((scope) => scope !== '');
  if (Array.isArray(scopes)) return scopes.filter((scope): scope is string => typeof scope === 'string' && scope !== '');
  return [];
}

/** Whether `granted` satisfies a route's required scopes: every one of them (`all`) or at least one (`any`). */
export function hasScopes(granted: readonly string[], required: readonly string[], match: 'all' | 'any'): boolean {
  if (required.length === 0) return true;
  const held = new Set(granted);
  return match === 'any' ? required.some((scope) => held.has(scope)) : required.every((scope) => held.has(scope));
}

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), printable ASCII but space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * A client's `scope` parameter (RFC 6749 §3.3: scope-tokens, each separated by one space, case-sensitive),
 * duplicates collapsed in first-seen order; undefined when it is not of that form.
 */
export function parseScopeParameter(value: string): string[] | undefined {
  const tokens = value.split(' ');
  if (!tokens.every((token) => SCOPE_TOKEN.test(token))) return undefined;
  return [...new Set(tokens)];
}

// A cached consumer's tags stay one array for as long as its copy lives: their scopes are worked out once.
const scopesOfTags = new WeakMap<object, { prefix: string; scopes: readonly string[] }>();
const NO_SCOPES: readonly string[] = Object.freeze([]);

/** The scopes a consumer's tags allow: each tag that starts with `prefix`, without it, when the rest is a scope-token. */
export function scopesFromTags(tags: unknown, prefix: string): readonly string[] {
  if (!Array.isArray(tags)) return NO_SCOPES;
  const known = scopesOfTags.get(tags);
  if (known && known.prefix === prefix) return known.scopes;
  const found = new Set<string>();
  for (const tag of tags as unknown[]) {
    if (typeof tag !== 'string' || !tag.startsWith(prefix)) continue;
    const scope = tag.slice(prefix.length);
    if (SCOPE_TOKEN.test(scope)) found.add(scope);
  }
  const scopes = Object.freeze([...found]);
  scopesOfTags.set(tags, { prefix, scopes });
  return scopes;
}

/** What a token may carry: the requested scopes when all are allowed, else the ones refused. */
export type ScopeGrant = { granted: readonly string[] } | { refused: string[] };

/**
 * The scopes to issue. A request is granted whole or refused (naming what is not allowed); without one,
 * `defaults` that are allowed, or every allowed scope when there are no defaults.
 */
export function grantScopes(allowed: readonly string[], requested: readonly string[] | undefined, defaults: readonly string[]): ScopeGrant {
  if (requested === undefined && defaults.length === 0) return { granted: allowed };
  const held = new Set(allowed);
  if (requested !== undefined) {
    const refused = requested.filter((scope) => !held.has(scope));
    return refused.length > 0 ? { refused } : { granted: requested };
  }
  return { granted: [...new Set(defaults)].filter((scope) => held.has(scope)) };
}
