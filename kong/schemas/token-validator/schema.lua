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
          { algorithms = { type = "array", elements = { type = "string", one_of = { "HS256", "ES256", "EdDSA", "RS256" } }, default = { "HS256" }, len_min = 1, required = true, description = "Algorithms a token may be signed with; any other (`none` included) is refused with `AUTH_011` `algorithm`. `HS256` tokens are checked with the consumer's `jwt` credential; `ES256`, `EdDSA` and `RS256` tokens with the key of `SIGNING_KEYS_DIR` their `kid` names, locally and with that key's algorithm, and are for the consumer their `client_id` names." } },
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
        },
      },
    },
  },
}
