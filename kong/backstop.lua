-- kong-auth-sidecar backstop: post-function access, on every route with token-validator in gate mode.
local credential = kong.client.get_credential()
local ours = credential and credential.kong_auth_sidecar_headers
if ours then
  local identity = { ["x-consumer-id"] = true, ["x-consumer-username"] = true, ["x-consumer-custom-id"] = true,
    ["x-credential-identifier"] = true, ["x-anonymous-consumer"] = true, ["x-token-id"] = true, ["x-token-scopes"] = true }
  local sent, truncated = kong.request.get_headers(1000)
  if truncated then return kong.response.exit(400, { message = "too many request headers" }) end
  for name in pairs(sent) do
    if identity[name:lower():gsub("_", "-")] then kong.service.request.clear_header(name) end
  end
  kong.service.request.set_headers(ours)
elseif not (credential and credential.kong_auth_sidecar_gate or kong.ctx.shared.kong_auth_sidecar_gate) then
  return kong.response.exit(503, { message = "authentication gate unavailable" })
end
