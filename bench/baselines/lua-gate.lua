-- The in-process anchor: the gate as a Lua access handler inside nginx, the shape of Kong's bundled jwt
-- plugin. It does what our gate does with no socket: the Bearer token's HS256 signature checked against a
-- secret table found by the token's key claim (lua-luaossl's HMAC), exp checked, the consumer handed to
-- kong.client.authenticate with the backstop's mark, and one kong.service.request.set_headers table
-- clearing every identity header and setting ours (the PDK functions are Kong's, from the bridge kit's
-- `kong` global). bench/e2e-kong.ts runs the function this module returns in the route's access_by_lua;
-- a yardstick, not production code.
local hmac = require "openssl.hmac"
local cjson = require "cjson.safe"

local CONSUMER = { id = "11111111-1111-4111-8111-111111111111", username = "bench-consumer", custom_id = "bench-custom" }
local SECRETS = {
  ["bench-key"] = {
    secret = "bench-secret-0123456789abcdef0123456789",
    consumer = CONSUMER,
    credential = { id = "bench-credential-id", key = "bench-key", consumer = { id = CONSUMER.id }, kong_auth_sidecar_gate = true },
  },
}
local IDENTITY_HEADERS = {
  "x-consumer-id", "x-consumer-username", "x-consumer-custom-id", "x-credential-identifier",
  "x-anonymous-consumer", "x-token-id", "x-token-scopes",
}

local function base64url_decode(text)
  local s = text:gsub("-", "+"):gsub("_", "/")
  local pad = #s % 4
  if pad > 0 then s = s .. string.rep("=", 4 - pad) end
  return ngx.decode_base64(s)
end

local function unauthorized()
  ngx.status = 401
  ngx.header["Content-Type"] = "application/json"
  ngx.print('{"message":"Unauthorized"}')
  return ngx.exit(401)
end

return function()
  local authorization = ngx.var.http_authorization
  local token = authorization and authorization:match("^[Bb][Ee][Aa][Rr][Ee][Rr] +(.+)$")
  local h, p, s = (token or ""):match("^([%w_-]+)%.([%w_-]+)%.([%w_-]+)$")
  if not h then return unauthorized() end
  local header = cjson.decode(base64url_decode(h) or "")
  local claims = cjson.decode(base64url_decode(p) or "")
  if type(header) ~= "table" or header.alg ~= "HS256" or type(claims) ~= "table" then return unauthorized() end
  local entry = SECRETS[claims.key]
  if not entry then return unauthorized() end
  if hmac.new(entry.secret, "sha256"):final(h .. "." .. p) ~= base64url_decode(s) then return unauthorized() end
  if type(claims.exp) ~= "number" or claims.exp <= ngx.time() or type(claims.sub) ~= "string" then return unauthorized() end

  kong.client.authenticate(entry.consumer, entry.credential)
  local upstream = {}
  for _, name in ipairs(IDENTITY_HEADERS) do
    upstream[name] = {}
    upstream[name:gsub("-", "_")] = {}
  end
  upstream["x-consumer-id"] = entry.consumer.id
  upstream["x-consumer-username"] = entry.consumer.username
  if type(claims.jti) == "string" then upstream["x-token-id"] = claims.jti end
  if ngx.var.http_x_request_id == nil then upstream["x-request-id"] = claims.jti end
  kong.service.request.set_headers(upstream)
end
