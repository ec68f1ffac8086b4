-- Generated from plugins/token-validator.ts by `make build`; do not edit.
local typedefs = require "kong.db.schema.typedefs"

return {
  name = "token-validator",
  fields = {
    { protocols = typedefs.protocols_http },
    { config = {
        type = "record",
        fields = {
          { mode = { type = "string", default = "endpoint", one_of = { "endpoint", "gate" }, required = true, description = "endpoint answers itself; gate protects an upstream." } },
          { issuer = { type = "string", description = "Required iss claim when set." } },
          { audience = { type = "array", elements = { type = "string" }, default = {}, required = true, description = "Accepted aud values when non-empty." } },
          { key_claim_name = { type = "string", default = "key", required = true, description = "Claim carrying the credential key." } },
          { clock_skew_seconds = { type = "integer", default = 0, between = { 0, 300 }, required = true, description = "Leeway for exp and nbf, in seconds." } },
          { max_token_age_seconds = { type = "integer", between = { 1, 604800 }, description = "Refuse tokens whose iat is older than this." } },
          { header_names = { type = "array", elements = { type = "string" }, default = { "authorization" }, required = true, description = "Headers carrying \"Bearer <token>\"." } },
          { uri_param_names = { type = "array", elements = { type = "string" }, default = {}, required = true, description = "Query parameters carrying the token (for WebSocket clients)." } },
          { cookie_names = { type = "array", elements = { type = "string" }, default = {}, required = true, description = "Cookies carrying the token." } },
          { run_on_preflight = { type = "boolean", default = true, required = true, description = "Also check OPTIONS requests (gate mode)." } },
          { verify_consumer = { type = "boolean", default = true, required = true, description = "Endpoint mode: X-Consumer-ID must name the consumer Kong authenticated." } },
        },
      },
    },
  },
}
