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
