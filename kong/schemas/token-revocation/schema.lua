-- Generated from plugins/token-revocation.ts by `make build`; do not edit.
local typedefs = require "kong.db.schema.typedefs"

return {
  name = "token-revocation",
  fields = {
    { protocols = typedefs.protocols_http },
    { config = {
        type = "record",
        fields = {
          { key_claim_name = { type = "string", default = "key", required = true, description = "Claim that names the token's credential: token-issuer's `key_claim_name`." } },
          { allow_revoke_all = { type = "boolean", default = false, required = true, description = "Accept `revoke=all`: every token of the calling consumer issued up to the answer is revoked (\"log out everywhere\"). Off: `revoke=all` is `invalid_request`." } },
        },
      },
    },
  },
}
