-- Generated from plugins/token-issuer.ts by `make build`; do not edit.
local typedefs = require "kong.db.schema.typedefs"

return {
  name = "token-issuer",
  fields = {
    { protocols = typedefs.protocols_http },
    { config = {
        type = "record",
        fields = {
          { ttl_seconds = { type = "integer", default = 900, between = { 60, 86400 }, required = true, description = "Token lifetime in seconds." } },
          { issuer = { type = "string", description = "The iss claim; omitted when unset." } },
          { audience = { type = "array", elements = { type = "string" }, default = {}, required = true, description = "The aud claim: one entry is a string, several an array." } },
          { key_claim_name = { type = "string", default = "key", required = true, not_one_of = { "sub", "name", "jti", "iat", "nbf", "exp", "iss", "aud", "unique_name" }, description = "Claim carrying the credential key (Kong jwt plugin's key_claim_name)." } },
          { unique_name_prefix = { type = "string", description = "When set, unique_name = prefix + consumer name." } },
          { verify_consumer = { type = "boolean", default = true, required = true, description = "X-Consumer-ID must name the consumer Kong authenticated with a credential." } },
          { provision_credentials = { type = "boolean", default = true, required = true, description = "Create an HS256 jwt credential for a consumer that has none (never when verify_consumer is off)." } },
          { rate_limit_per_minute = { type = "integer", default = 0, between = { 0, 1000000 }, required = true, description = "Tokens per consumer per minute; 0 = no limit." } },
          { request_id_source = { type = "string", default = "header", one_of = { "header", "kong" }, required = true, description = "header: X-Request-Id or a new UUID; kong: Kong's kong_request_id." } },
        },
      },
    },
  },
}
