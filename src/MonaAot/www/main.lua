-- The default application of MonaAot: www/main.lua is the root application, run at start-up.
-- Every folder with a main.lua below www/ is a child application that inherits from this one.
-- It runs a TCP echo service on the port of the [echo] section of monaaot.ini.

local port = mona.configs["echo.port"] or 7000

-- A server object; it stays alive while it listens, even without a reference.
local server = mona:createTCPServer()

-- Called with a connected TCPClient for each accepted connection.
function server:onConnection(client)
  INFO("connection from ", client.peerAddress)

  -- Called with all bytes received (plus any kept from the last call); the return value is how
  -- many bytes, from the end, to keep for next time: nothing here, everything is echoed.
  function client:onReception(data)
    self:send(data)
  end

  -- Called once when the connection ends; error is nil for a normal close.
  function client:onDisconnection()
    if self.error then WARN("connection lost: ", self.error) end
  end
end

-- Called once this file has run without error; path is "" for the root application. A child
-- application (a folder with a main.lua below www/) inherits this handler and calls it with its
-- own path: the service is the root's, so only the root starts it.
function onStart(path)
  if path ~= "" then return end
  if server:start(port) then
    NOTE("echo service listening on port ", server.port, " (try: nc localhost ", server.port, ")")
  end
end

-- Called on shutdown, and before this file is reloaded after an edit: the server closes with it.
function onStop(path)
  if path ~= "" then return end
  NOTE("echo service stopped")
end
