-- A line protocol server: every complete line of each onReception is one command, the
-- incomplete last line is kept for the next call (the return value of onReception: docs/api.md).
--
--   ECHO text   answers "text"
--   TIME        answers mona:time(), milliseconds since the epoch
--   QUIT        answers "BYE" and closes
--
-- Lines end with "\n" ("\r\n" works too). A line longer than [lines] maxLength bytes is answered
-- with an error and the connection is closed: without a limit, a peer that never sends "\n"
-- would make the server keep everything it sends.
--
-- Configuration (the ini file, all optional):
--   [lines]
--   host = 0.0.0.0      ; the address to listen on; without it, every interface
--   port = 7001         ; 0 picks a free port (logged)
--   maxLength = 1024    ; bytes per line, without its "\n"

local host = mona.configs["lines.host"]
local port = mona.configs["lines.port"] or 7001
local maxLength = mona.configs["lines.maxLength"] or 1024

-- One command; returns false when the connection is to end (QUIT).
local function execute(client, line)
  local command, argument = line:match("^(%S*)%s?(.*)$")
  command = command:upper()
  if command == "ECHO" then
    client:send(argument .. "\n")
  elseif command == "TIME" then
    client:send(mona:time() .. "\n")
  elseif command == "QUIT" then
    client:send("BYE\n")
    client:disconnect() -- the answer is still delivered, then the FIN
    return false
  elseif command ~= "" then -- an empty line is ignored
    client:send("ERR unknown command '" .. command .. "'\n")
  end
  return true
end

local function tooLong(client)
  WARN(client.peerAddress, ": line longer than ", maxLength, " bytes, closing")
  client:send("ERR line too long (max " .. maxLength .. " bytes)\n")
  client:disconnect()
  return 0 -- nothing to keep: no more onReception comes after disconnect()
end

local server = mona:createTCPServer()

function server:onConnection(client)
  INFO("connection from ", client.peerAddress)

  -- data is what arrived, preceded by the incomplete line kept last time. Every complete line
  -- in it is executed (one call may bring many), then the length of the incomplete tail is
  -- returned: those bytes come back at the front of the next call's data.
  function client:onReception(data)
    local start, lines = 1, 0
    while true do
      local newline = data:find("\n", start, true)
      if not newline then break end
      if newline - start > maxLength then return tooLong(self) end
      local line = data:sub(start, newline - 1)
      if line:sub(-1) == "\r" then line = line:sub(1, -2) end
      start = newline + 1
      lines = lines + 1
      if not execute(self, line) then return 0 end
    end
    local kept = #data - start + 1
    DEBUG(self.peerAddress, ": ", lines, " line(s), ", kept, " byte(s) kept")
    if kept > maxLength then return tooLong(self) end
    return kept
  end

  function client:onDisconnection()
    if self.error then WARN("connection lost: ", self.error) end
  end
end

local started
if host then started = server:start(host, port) else started = server:start(port) end
if started then
  NOTE("line server listening on port ", server.port, " (try: nc localhost ", server.port, ")")
end
