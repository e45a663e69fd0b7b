-- A small JSON-over-TCP service with signed tokens: one JSON object per line each way.
--
--   {"op":"login","user":"ann"}                  -> {"token":"<payload>.<signature>"}
--   {"op":"whoami","token":"..."}                -> {"user":"ann","expires":1733400000000}
--   {"op":"sum","token":"...","values":[1,2.5]}  -> {"sum":3.5}
--   anything else                                -> {"error":"..."}  (the connection stays)
--
-- A token is the base64 of a JSON payload ({"user":..., "expires":...}), a dot, and the hex
-- HMAC-SHA256 of that base64 text with [json] secret: the server keeps no session, and a token
-- changed by a client (another user, a later expiry) no longer matches its signature.
--
-- Configuration (the ini file, all optional):
--   [json]
--   port = 7002        ; 0 picks a free port (logged)
--   secret = ...       ; the HMAC key; without it a random one is made at each start
--   lifetime = 3600    ; seconds a token is valid
--   maxLength = 65536  ; bytes per request line

local port = mona.configs["json.port"] or 7002
local lifetime = (mona.configs["json.lifetime"] or 3600) * 1000
local maxLength = mona.configs["json.maxLength"] or 65536
local secret = mona.configs["json.secret"]
if not secret then
  -- Tokens then last until the next start: fine for a demo, not for a fleet.
  local seed = {}
  for i = 1, 32 do seed[i] = string.char(math.random(0, 255)) end
  secret = table.concat(seed)
  WARN("no [json] secret: tokens are signed with a random key made at this start")
end

local function sign(text)
  return mona:toHex(mona:hmac("sha256", secret, text))
end

-- Compares two signatures in a time that does not depend on where they differ.
local function same(a, b)
  if #a ~= #b then return false end
  local difference = 0
  for i = 1, #a do difference = difference | (a:byte(i) ~ b:byte(i)) end
  return difference == 0
end

local function issue(user)
  local payload = mona:toBase64(mona:toJSON({ user = user, expires = mona:time() + lifetime }))
  return payload .. "." .. sign(payload)
end

-- The token's payload, or nil and why it is refused.
local function check(token)
  if type(token) ~= "string" then return nil, "token missing" end
  local payload, signature = token:match("^([%w+/=]+)%.(%x+)$")
  if not payload or not same(signature, sign(payload)) then return nil, "bad token" end
  local text = mona:fromBase64(payload)
  local claims = text and mona:fromJSON(text)
  if type(claims) ~= "table" or type(claims.user) ~= "string" then return nil, "bad token" end
  if claims.expires <= mona:time() then return nil, "token expired" end
  return claims
end

local handlers = {}

function handlers.login(request)
  if type(request.user) ~= "string" or request.user == "" then return { error = "user missing" } end
  return { token = issue(request.user) }
end

function handlers.whoami(request)
  local claims, why = check(request.token)
  if not claims then return { error = why } end
  return { user = claims.user, expires = claims.expires }
end

function handlers.sum(request)
  local claims, why = check(request.token)
  if not claims then return { error = why } end
  if type(request.values) ~= "table" then return { error = "values must be an array of numbers" } end
  local sum = 0
  for _, value in ipairs(request.values) do
    if type(value) ~= "number" then return { error = "values must be an array of numbers" } end
    sum = sum + value
  end
  if sum ~= sum or sum == math.huge or sum == -math.huge then
    return { error = "the sum is not a finite number" } -- JSON cannot hold it
  end
  return { sum = sum }
end

local function answer(line)
  local request, problem = mona:fromJSON(line)
  if request == nil then return { error = "bad JSON: " .. problem } end
  -- fromJSON gives arrays the metatable mona.array: that is how an array tells itself from an object.
  if type(request) ~= "table" or getmetatable(request) == mona.array then
    return { error = "a request is a JSON object" }
  end
  local handler = handlers[request.op]
  if not handler then return { error = "unknown op " .. mona:toJSON(request.op or mona.null) } end
  return handler(request)
end

local server = mona:createTCPServer()

function server:onConnection(client)
  function client:onReception(data)
    local start = 1
    while true do
      local newline = data:find("\n", start, true)
      if not newline then break end
      local line = data:sub(start, newline - 1)
      start = newline + 1
      if line:match("%S") then
        self:send(mona:toJSON(answer(line)) .. "\n")
      end
    end
    local kept = #data - start + 1
    if kept > maxLength then
      self:send(mona:toJSON({ error = "request longer than " .. maxLength .. " bytes" }) .. "\n")
      self:disconnect()
      return 0
    end
    return kept -- the incomplete last line comes back with the next data
  end
end

if server:start(port) then
  NOTE("JSON service listening on port ", server.port)
end
