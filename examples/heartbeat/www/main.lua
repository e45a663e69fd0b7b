-- The PONG server, the root application: it answers each line "PING n" with "PONG n". It is
-- here so that this folder runs alone; the heartbeat client is the child application
-- client/main.lua, which connects to this server unless [heartbeat] port names another.
--
-- Configuration (the ini file, all optional):
--   [pong]
--   host = 127.0.0.1   ; the address to listen on; without it, every interface
--   port = 7002        ; 0 picks a free port (logged)

local host = mona.configs["pong.host"]
local port = mona.configs["pong.port"] or 7002

-- A global, so that the child application (client/) finds it through inheritance.
pongServer = mona:createTCPServer()

function pongServer:onConnection(client)
  INFO("pong: connection from ", client.peerAddress)

  -- Every complete line is answered; an incomplete one is kept for the next call.
  function client:onReception(data)
    local start = 1
    while true do
      local newline = data:find("\n", start, true)
      if not newline then break end
      local n = data:sub(start, newline - 1):match("^PING (%d+)\r?$")
      if n then self:send("PONG " .. n .. "\n") end
      start = newline + 1
    end
    local kept = #data - start + 1
    if kept > 64 then -- no PING line is that long
      self:disconnect()
      return 0
    end
    return kept
  end

  function client:onDisconnection()
    INFO("pong: ", self.error or "connection closed")
  end
end

local started
if host then started = pongServer:start(host, port) else started = pongServer:start(port) end
if started then
  NOTE("pong server listening on port ", pongServer.port)
end
