-- Generated from plugins/token-validator.ts by `make build`; do not edit.
local typedefs = require "kong.db.schema.typedefs"

return {
  name = "token-validator",
  fields = {
    { protocols = typedefs.protocols_http },
    { config = {
        type = "record",
        fields = {
          { mode = { type = "string", default = "endpoint", one_of = { "endpoint", "gate", "introspection" }, required = true, description = "`endpoint`: the plugin answers the request itself. `gate`: it protects the route's upstream. `introspection`: an RFC 7662 introspection endpoint (`POST` form `token=…`) for resource servers Kong authenticated." } },
          { issuer = { type = "string", description = "When set, the token's `iss` must equal it." } },
          { audience = { type = "array", elements = { type = "string" }, default = {}, required = true, description = "When not empty, the token's `aud` must contain one of these values." } },
          { key_claim_name = { type = "string", default = "key", required = true, description = "Claim that names the credential (as in Kong's `jwt` plugin)." } },
          { clock_skew_seconds = { type = "integer", default = 0, between = { 0, 300 }, required = true, description = "Leeway for `exp`, `nbf` and the maximum age, in seconds." } },
          { max_token_age_seconds = { type = "integer", between = { 1, 604800 }, description = "When set, tokens whose `iat` is older than this are refused, and so are tokens without an `iat`." } },
          { algorithms = { type = "array", elements = { type = "string", one_of = { "HS256", "ES256", "EdDSA", "RS256", "PS256" } }, default = { "HS256" }, len_min = 1, required = true, description = "Algorithms a token may be signed with; any other (`none` included) is refused with `AUTH_011` `algorithm`. `HS256` tokens are checked with the consumer's `jwt` credential; `ES256`, `EdDSA` and `RS256` tokens with the key of `SIGNING_KEYS_DIR` their `kid` names, locally and with that key's algorithm, and are for the consumer their `client_id` names. With `jwks_uri`: `RS256`, `PS256`, `ES256` and `EdDSA` only, checked with the provider's keys." } },
          { header_names = { type = "array", elements = { type = "string" }, default = { "authorization" }, required = true, description = "Headers that carry `Bearer <token>`. The scheme is matched case-insensitively." } },
          { uri_param_names = { type = "array", elements = { type = "string" }, default = {}, required = true, description = "Query parameters that carry the token, for WebSocket clients. Off by default, because URLs end up in logs." } },
          { cookie_names = { type = "array", elements = { type = "string" }, default = {}, required = true, description = "Cookies that carry the token." } },
          { run_on_preflight = { type = "boolean", default = true, required = true, description = "Gate mode: also check `OPTIONS` requests, as Kong's `jwt` plugin does." } },
          { upstream_headers = { type = "string", default = "sidecar", one_of = { "sidecar", "backstop" }, required = true, description = "Gate mode: who clears the client's identity headers and sets ours. `sidecar`: the gate, with one more call to Kong. `backstop`: the route's backstop post-function, from the credential the gate hands Kong, one call fewer per request; it needs the backstop that knows this form (a route whose backstop does not answers 503)." } },
          { verify_consumer = { type = "boolean", default = true, required = true, description = "Endpoint mode: the consumer headers must name the consumer Kong authenticated." } },
          { required_scopes = { type = "array", elements = { type = "string" }, default = {}, required = true, description = "Scopes the token must carry (its `scope` claim, space-delimited, or `scp`, a string or an array); a token without them is refused with 403 `AUTH_013`. Empty: no scope is required." } },
          { scopes_match = { type = "string", default = "all", one_of = { "all", "any" }, required = true, description = "`all`: the token must carry every one of `required_scopes`. `any`: at least one." } },
          { check_revocation = { type = "boolean", default = true, required = true, description = "Gate and endpoint mode: refuse revoked tokens (401 `AUTH_011` `revoked`), checked in memory. Without Redis, revocations are those of this process." } },
          { revocation_unavailable = { type = "string", default = "allow", one_of = { "allow", "deny" }, required = true, description = "While the revocation list is not known to be complete (Redis unreachable): `allow` admits tokens not known to be revoked (counted in `kong_auth_revocation_unchecked_total`), `deny` answers 503 `AUTH_018`." } },
          { token_types = { type = "array", elements = { type = "string" }, default = {}, required = true, description = "When not empty, the token header's `typ` must be one of these (case-insensitive, with or without `application/`, e.g. `at+jwt` for RFC 9068 access tokens); any other, or none, is refused with `AUTH_011` `token_type`. Empty: any `typ`." } },
          { jwks_uri = { type = "string", description = "Gate mode: the JWKS URL of an identity provider (Keycloak, Auth0, Entra ID…) whose tokens the route accepts, instead of the sidecar's own. Requires `issuer`, `audience`, and `algorithms` without `HS256`.", match_none = { { pattern = "[%s#]", err = "must not contain whitespace or a fragment (#)" } }, match_any = { patterns = { "^https://[%w][%w%.%-]*[:/]", "^https://[%w][%w%.%-]*$", "^http://localhost[:/]", "^http://localhost$", "^http://127%.0%.0%.1[:/]", "^http://127%.0%.0%.1$" }, err = "must be an absolute https URL (http only for localhost and 127.0.0.1)" } } },
          { jwks_min_cache_seconds = { type = "integer", default = 300, between = { 1, 86400 }, required = true, description = "With `jwks_uri`: the shortest time a fetched key set is kept, whatever its `Cache-Control` says (and without `max-age`), in seconds." } },
          { jwks_max_cache_seconds = { type = "integer", default = 3600, between = { 1, 604800 }, required = true, description = "With `jwks_uri`: the longest cache lifetime a fetched key set gets, whatever its `Cache-Control` says, in seconds; not below `jwks_min_cache_seconds`. The set is fetched again in the background at 3/4 of its lifetime; while those fetches fail it stays in use for up to `jwks_max_stale_seconds` more." } },
          { jwks_max_stale_seconds = { type = "integer", default = 3600, between = { 0, 604800 }, required = true, description = "With `jwks_uri`: while the provider cannot be fetched (down, an error status, not a JWKS), how long past its cache lifetime the last good key set is still used, in seconds; then the route answers 503 `AUTH_004` until a fetch succeeds. A JWKS the provider does publish replaces the set at once, even when it has no usable key." } },
          { jwks_refetch_cooldown_seconds = { type = "integer", default = 30, between = { 1, 3600 }, required = true, description = "With `jwks_uri`: a token whose `kid` the set lacks (or whose signature fails under it) fetches the set again at most once in this many seconds." } },
          { jwks_max_wait_ms = { type = "integer", default = 500, between = { 0, 10000 }, required = true, description = "With `jwks_uri`: the longest a request waits for a fetch of the key set (only when there is none yet, or for a refetch), in ms; then 503 `AUTH_004` without a set." } },
        },
      },
    },
  },
  entity_checks = {
    { conditional = { if_field = "config.jwks_uri", if_match = { required = true }, then_field = "config.mode", then_match = { one_of = { "gate" } } } },
    { conditional = { if_field = "config.jwks_uri", if_match = { required = true }, then_field = "config.issuer", then_match = { required = true } } },
    { conditional = { if_field = "config.jwks_uri", if_match = { required = true }, then_field = "config.audience", then_match = { len_min = 1 } } },
    { conditional = { if_field = "config.jwks_uri", if_match = { required = true }, then_field = "config.algorithms", then_match = { elements = { type = "string", one_of = { "RS256", "PS256", "ES256", "EdDSA" } } } } },
  },
}
