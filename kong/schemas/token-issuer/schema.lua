-- Generated from plugins/token-issuer.ts by `make build`; do not edit.
local typedefs = require "kong.db.schema.typedefs"

return {
  name = "token-issuer",
  fields = {
    { protocols = typedefs.protocols_http },
    { config = {
        type = "record",
        fields = {
          { ttl_seconds = { type = "integer", default = 900, between = { 60, 86400 }, required = true, description = "Token lifetime in seconds: `exp` = `iat` + this, and `expires_in` in the answer." } },
          { issuer = { type = "string", description = "The `iss` claim. Left out when unset." } },
          { audience = { type = "array", elements = { type = "string" }, default = {}, required = true, description = "The `aud` claim: one entry gives a string, several give an array. Left out when empty." } },
          { key_claim_name = { type = "string", default = "key", required = true, not_one_of = { "sub", "name", "jti", "iat", "nbf", "exp", "iss", "aud", "unique_name" }, description = "Claim that carries the credential key (the `key_claim_name` of Kong's `jwt` plugin). It cannot be `sub`, `name`, `jti`, `iat`, `nbf`, `exp`, `iss`, `aud` or `unique_name`." } },
          { unique_name_prefix = { type = "string", description = "When set, the token gets a `unique_name` claim: this prefix followed by the consumer's name." } },
          { verify_consumer = { type = "boolean", default = true, required = true, description = "`X-Consumer-ID` must name the consumer Kong authenticated, and Kong must have authenticated it with a credential (the anonymous consumer has none)." } },
          { provision_credentials = { type = "boolean", default = true, required = true, description = "Create an HS256 `jwt` credential for a consumer that has none. Never done while `verify_consumer` is off." } },
          { rate_limit_per_minute = { type = "integer", default = 0, between = { 0, 1000000 }, required = true, description = "Tokens per consumer per minute, shared through Redis when Redis is configured, else counted per process. 0: no limit." } },
          { request_id_source = { type = "string", default = "header", one_of = { "header", "kong" }, required = true, description = "`header`: the request id is the incoming `X-Request-Id`, else a new UUID. `kong`: Kong's own `kong_request_id`." } },
          { scope_tag_prefix = { type = "string", default = "scope:", required = true, description = "Consumer tags that allow a scope: a tag of this prefix followed by the scope (`scope:orders.read` allows `orders.read`). Only the consumer's tags in Kong decide what a token may carry, never the client." } },
          { default_scopes = { type = "array", elements = { type = "string" }, default = {}, required = true, description = "Scopes a token gets when the client asks for none (no `scope` query parameter, or form parameter for a client credentials request), as far as the consumer is allowed them. Empty: every scope the consumer is allowed." } },
          { scope_query_parameter = { type = "boolean", default = true, required = true, description = "A GET may ask for scopes with the `scope` query parameter: one more round trip to Kong (`get_query`) for each token of a consumer with scope tags. Off: the query is never read, and tokens get `default_scopes` (as far as allowed)." } },
          { client_credentials_only = { type = "boolean", default = false, required = true, description = "Answer only OAuth 2.0 client credentials requests (a form POST with `grant_type`): any other request is refused with `invalid_request`. For a route that is an OAuth token endpoint and nothing else." } },
          { mode = { type = "string", default = "token", one_of = { "token", "jwks", "metadata" }, required = true, description = "`token`: the route issues tokens. `jwks`: it answers `GET` with the public keys of `SIGNING_KEYS_DIR` as a JWKS (for `/.well-known/jwks.json`). `metadata`: RFC 8414 authorization server metadata (for `/.well-known/oauth-authorization-server`) from `issuer` and the fields below." } },
          { max_age_seconds = { type = "integer", default = 300, between = { 0, 86400 }, required = true, description = "`jwks` and `metadata` modes: `Cache-Control: public, max-age` of the answer, in seconds. `keys promote --publish-ahead` must be at least this plus the time a key directory change takes to reach every sidecar." } },
          { token_endpoint = { type = "string", description = "`metadata` mode, required: the public URL of the client credentials route (basic-auth in front of it).", match_none = { { pattern = "[%s#]", err = "must not contain whitespace or a fragment (#)" } }, match_any = { patterns = { "^https://[%w][%w%.%-]*[:/]", "^https://[%w][%w%.%-]*$", "^http://localhost[:/]", "^http://localhost$", "^http://127%.0%.0%.1[:/]", "^http://127%.0%.0%.1$" }, err = "must be an absolute https URL (http only for localhost and 127.0.0.1)" } } },
          { jwks_uri = { type = "string", description = "`metadata` mode, required: the public URL of the `jwks` route.", match_none = { { pattern = "[%s#]", err = "must not contain whitespace or a fragment (#)" } }, match_any = { patterns = { "^https://[%w][%w%.%-]*[:/]", "^https://[%w][%w%.%-]*$", "^http://localhost[:/]", "^http://localhost$", "^http://127%.0%.0%.1[:/]", "^http://127%.0%.0%.1$" }, err = "must be an absolute https URL (http only for localhost and 127.0.0.1)" } } },
          { revocation_endpoint = { type = "string", description = "`metadata` mode: the public URL of the token-revocation route (basic-auth in front of it), when there is one.", match_none = { { pattern = "[%s#]", err = "must not contain whitespace or a fragment (#)" } }, match_any = { patterns = { "^https://[%w][%w%.%-]*[:/]", "^https://[%w][%w%.%-]*$", "^http://localhost[:/]", "^http://localhost$", "^http://127%.0%.0%.1[:/]", "^http://127%.0%.0%.1$" }, err = "must be an absolute https URL (http only for localhost and 127.0.0.1)" } } },
          { introspection_endpoint = { type = "string", description = "`metadata` mode: the public URL of an introspection route (basic-auth in front of it), when there is one.", match_none = { { pattern = "[%s#]", err = "must not contain whitespace or a fragment (#)" } }, match_any = { patterns = { "^https://[%w][%w%.%-]*[:/]", "^https://[%w][%w%.%-]*$", "^http://localhost[:/]", "^http://localhost$", "^http://127%.0%.0%.1[:/]", "^http://127%.0%.0%.1$" }, err = "must be an absolute https URL (http only for localhost and 127.0.0.1)" } } },
          { scopes_supported = { type = "array", elements = { type = "string" }, default = {}, required = true, description = "`metadata` mode: the scopes clients may ask for, published as `scopes_supported`. Empty: left out." } },
          { algorithm = { type = "string", default = "HS256", one_of = { "HS256", "ES256", "EdDSA", "RS256" }, required = true, description = "`HS256`: signed with the consumer's `jwt` credential secret, which only Kong can verify. `ES256`, `EdDSA`, `RS256`: signed with the current key of that algorithm in `SIGNING_KEYS_DIR` (header `kid`), verifiable by anyone from the published JWKS; the token carries the consumer's id in `client_id` instead of a credential key, and no credential is read or provisioned." } },
          { token_profile = { type = "string", default = "jwt", one_of = { "jwt", "rfc9068" }, required = true, description = "`rfc9068`: RFC 9068 access tokens: header `typ: at+jwt`, with `iss`, `aud`, `sub`, `client_id`, `iat`, `exp`, `jti` (and `scope`). Needs `issuer`, a non-empty `audience` and an asymmetric `algorithm`." } },
        },
      },
    },
  },
  entity_checks = {
    { conditional = { if_field = "config.token_profile", if_match = { eq = "rfc9068" }, then_field = "config.issuer", then_match = { required = true } } },
    { conditional = { if_field = "config.token_profile", if_match = { eq = "rfc9068" }, then_field = "config.audience", then_match = { len_min = 1 } } },
    { conditional = { if_field = "config.token_profile", if_match = { eq = "rfc9068" }, then_field = "config.algorithm", then_match = { one_of = { "ES256", "EdDSA", "RS256" } } } },
  },
}
