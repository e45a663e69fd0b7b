-- A TCP relay: each connection accepted on the front port gets its own connection to the
-- backend, and bytes are forwarded both ways, with
--
--   backpressure: while the side being written has more than highMark bytes queued
--                 (queueing, docs/api.md), the side being read is paused; the written side's onFlush
--                 (its queue is empty again) resumes it. Memory stays bounded however slow one
--                 side is: the kernel's window slows the fast side down instead.
--   half-close:   allowHalfOpen on both sides; a FIN from one side (onEnd) is forwarded to the
--                 other with shutdown(), and the connections end once both directions are done.
--
-- Configuration (the ini file, all optional):
--   [relay]
--   host = 0.0.0.0            ; the address to listen on; without it, every interface
--   port = 7003               ; 0 picks a free port (logged)
--   backend = 127.0.0.1:7000  ; where to relay to ("host:port"; a name is resolved)
--   highMark = 1048576        ; bytes queued towards one side before the other is paused

local host = mona.configs["relay.host"]
local port = mona.configs["relay.port"] or 7003
local backend = mona.configs["relay.backend"] or "127.0.0.1:7000"
local highMark = mona.configs["relay.highMark"] or 1048576

-- Forwards what `from` receives to `to`, pausing `from` while `to` has too much queued.
local function forward(from, to)
  function from:onReception(data)
    local err = to:send(data)
    if err then -- `to` is gone; its onDisconnection ends `from` too
      return
    end
    if to.queueing > highMark and not from.paused then
      from:pause()
    end
  end
  -- `to`'s queue is empty again: read `from` again.
  function to:onFlush()
    if from.paused then from:resume() end
  end
  -- `from` has nothing more to send: so has `to`'s peer, once `to` has sent what is queued.
  -- When both directions are done the connection ends by itself (docs/api.md, client:shutdown()).
  function from:onEnd()
    to:shutdown()
  end
end

local server = mona:createTCPServer()

function server:onConnection(front)
  local back = mona:createTCPClient()
  local name = front.peerAddress .. " -> " .. backend
  front.allowHalfOpen = true
  back.allowHalfOpen = true
  forward(front, back)
  forward(back, front)

  -- Either side ending abnormally (reset, timeout, refused) ends the other, gracefully: what it
  -- already has queued is still delivered. A normal end of both needs nothing more.
  function front:onDisconnection()
    if self.error then WARN(name, ": client connection lost: ", self.error) end
    back:disconnect() -- nothing happens if it is already closed
    INFO(name, ": client side closed")
  end
  function back:onDisconnection()
    if self.error then
      WARN(name, ": backend ", backend, " failed: ", self.error, "; closing the client connection")
    end
    front:disconnect()
    INFO(name, ": backend side closed")
  end

  local err = back:connect(backend) -- later failures come to back:onDisconnection
  if err then
    WARN(name, ": cannot connect to the backend: ", err, "; closing the client connection")
    front:disconnect()
    return
  end
  INFO(name, ": relaying")
end

local started
if host then started = server:start(host, port) else started = server:start(port) end
if started then
  NOTE("relay listening on port ", server.port, ", forwarding to ", backend)
end
