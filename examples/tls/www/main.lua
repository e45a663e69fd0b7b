-- TLS both ways: an echo server, and a client that fetches a page over HTTPS.
--
-- The server is mona:createTCPServer(true): TLS with the certificate and key of MonaAot's own
-- [tls] section (renewed files are picked up for new connections without a restart). What a
-- client sends comes back to it; the handshake is done before onConnection is called, so the
-- session's version and ALPN protocol can be logged there.
--
-- The client fetches [fetch] url once at start when it is given: a TCP client with TLS options
-- (the server's certificate checked against [fetch] ca, or the system's store without it, and
-- its name against the url's host), an HTTP/1.1 GET with "Connection: close", the answer read
-- to its end. There is no HTTP library here: the request and the status line are a few lines.
--
-- Configuration (the ini file):
--   [tls]
--   certificate = server.pem   ; required for the echo server (PEM; relative to the ini file)
--   key = server.key
--   [echo]
--   port = 7443                ; 0 picks a free port (logged)
--   [fetch]
--   url = https://localhost:8443/hello.txt   ; optional
--   ca = ca.pem                ; optional: trust for that server (default: the system's store)

local echoPort = mona.configs["echo.port"] or 7443
local fetchUrl = mona.configs["fetch.url"]
local fetchCa = mona.configs["fetch.ca"]

-- 1. The echo server -------------------------------------------------------------------------

local ok, server = pcall(mona.createTCPServer, mona, true)
if not ok then
  ERROR("no TLS echo server: ", server, " (set [tls] certificate and key)")
else
  function server:onConnection(client)
    INFO("TLS client ", client.peerAddress, " (", client.tlsVersion, ", ALPN ", tostring(client.alpn), ")")
    function client:onReception(data)
      self:send(data)
    end
    function client:onDisconnection()
      if self.error then WARN("TLS client ", self.peerAddress, ": ", self.error) end
    end
  end
  if server:start(echoPort) then
    NOTE("TLS echo server listening on port ", server.port, " (try: openssl s_client -connect localhost:", server.port, ")")
  end
end

-- 2. The HTTPS fetch -------------------------------------------------------------------------

local function fetch(url)
  local host, port, path = url:match("^https://([^/:]+):?(%d*)(/?.*)$")
  if not host then
    ERROR("[fetch] url must look like https://host[:port]/path: ", url)
    return
  end
  port = tonumber(port) or 443
  if path == "" then path = "/" end
  local client = mona:createTCPClient({ ca = fetchCa, alpn = { "http/1.1" } })
  local answer = {}
  function client:onReception(data)
    answer[#answer + 1] = data -- the whole answer is wanted: kept until the server's end
  end
  function client:onDisconnection()
    if self.error then
      ERROR("fetch ", url, " failed: ", self.error)
      return
    end
    local text = table.concat(answer)
    local status = text:match("^HTTP/%d%.%d (%d%d%d)")
    local body = text:match("\r\n\r\n(.*)$") or ""
    NOTE("fetched ", url, ": status ", tostring(status), ", ", #body, " bytes: ", (body:match("^[^\n]*")))
  end
  local err = client:connect(host, port)
  if err then
    ERROR("fetch ", url, " failed: ", err)
    return
  end
  -- Sent at once: a TLS client queues what it is given until its handshake is done.
  client:send("GET " .. path .. " HTTP/1.1\r\nHost: " .. host .. "\r\nConnection: close\r\n\r\n")
end

if fetchUrl then fetch(fetchUrl) end
