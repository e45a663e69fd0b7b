-- A client with a heartbeat and a request timeout (the child application /client).
--
-- It connects to host:port and sends "PING n" every `interval` ms from a periodic timer (its
-- function returns the interval, which re-arms it). Each PING expects "PONG n". A second timer,
-- the deadline, runs while a PING is unanswered: re-armed with mona:setTimer(deadline, timeout)
-- and stopped with mona:setTimer(deadline, 0). When it fires, the peer is taken for dead: the
-- client disconnects and reconnects after a delay that doubles at each failed attempt (1 s,
-- 2 s, 4 s ... up to maxBackoff), back to the first delay once a PONG came.
--
-- Configuration (the ini file, all optional):
--   [heartbeat]
--   host = 127.0.0.1     ; the peer
--   port = 7002          ; without it: the port of the pong server of this folder (../main.lua)
--   interval = 1000      ; ms between PINGs
--   timeout = 3000       ; ms a PING may go unanswered
--   backoff = 1000       ; ms before the first reconnection
--   maxBackoff = 30000   ; ms, the longest delay between two attempts

local configs = mona.configs
local host = configs["heartbeat.host"] or "127.0.0.1"
local port = configs["heartbeat.port"] or (pongServer and pongServer.port) or 7002
local interval = configs["heartbeat.interval"] or 1000
local timeout = configs["heartbeat.timeout"] or 3000
local firstBackoff = configs["heartbeat.backoff"] or 1000
local maxBackoff = configs["heartbeat.maxBackoff"] or 30000

local socket = mona:createTCPClient()
local backoff = firstBackoff -- the delay before the next reconnection
local alive = false          -- a PONG came on this connection
local sent, answered = 0, 0  -- the last PING sent and the last PONG received, per connection
local sentAt = {}            -- PING number -> mona:time() when sent, while unanswered
local beat, deadline, retry  -- the three timers, made at first use, then re-armed

local connect -- defined below
local function onRetry() connect() end -- returns nothing: the retry timer is a one-shot

-- Arms `timer` for `ms` from now, making it with `fn` the first time; returns it.
local function arm(timer, fn, ms)
  if timer then
    mona:setTimer(timer, ms)
    return timer
  end
  return mona:setTimer(fn, ms)
end

local function stop(timer)
  if timer then mona:setTimer(timer, 0) end
end

local function reconnectLater()
  NOTE("reconnecting in ", backoff, " ms")
  retry = arm(retry, onRetry, backoff)
  backoff = math.min(backoff * 2, maxBackoff)
end

-- No PONG within the timeout: the peer is dead (or the path to it). disconnect() hands the
-- PINGs still queued to the kernel and sends the FIN; onDisconnection then reconnects.
local function onDeadline()
  NOTE("no PONG to PING ", answered + 1, " within ", timeout, " ms: peer ", host, ":", port,
       " considered dead, disconnecting")
  stop(beat)
  socket:disconnect()
end

local function ping()
  sent = sent + 1
  sentAt[sent] = mona:time()
  socket:send("PING " .. sent .. "\n")
  if sent == answered + 1 then -- nothing else outstanding: this PING's time starts now
    deadline = arm(deadline, onDeadline, timeout)
  end
end

-- The periodic timer: returning `interval` re-arms it. While the connection is still being
-- made there is nothing to ping yet ([tcp] connectTimeout bounds that part).
local function onBeat()
  if socket.connected then ping() end
  return interval
end

local function onPong(n)
  local took = mona:time() - sentAt[n]
  for i = answered + 1, n do sentAt[i] = nil end
  answered = n
  if not alive then
    alive = true
    backoff = firstBackoff
    NOTE("peer ", socket.peerAddress, " alive: PONG ", n, " after ", took, " ms")
  else
    INFO("PONG ", n, " after ", took, " ms")
  end
  if answered == sent then
    stop(deadline)                           -- nothing outstanding
  else
    deadline = arm(deadline, onDeadline, timeout) -- the next unanswered PING's time
  end
end

function socket:onReception(data)
  local start = 1
  while true do
    local newline = data:find("\n", start, true)
    if not newline then break end
    local n = tonumber(data:sub(start, newline - 1):match("^PONG (%d+)\r?$"))
    if n and sentAt[n] then onPong(n) end
    start = newline + 1
  end
  local kept = #data - start + 1
  if kept > 64 then -- no PONG line is that long
    NOTE("peer speaks no PONG, disconnecting")
    stop(beat)
    stop(deadline)
    self:disconnect()
    return 0
  end
  return kept
end

function socket:onDisconnection()
  stop(beat)
  stop(deadline)
  NOTE("disconnected from ", host, ":", port, self.error and (": " .. self.error) or "")
  reconnectLater()
end

function connect()
  alive, sent, answered, sentAt = false, 0, 0, {}
  NOTE("connecting to ", host, ":", port)
  local err = socket:connect(host, port)
  if err then -- failed at once (a bad address): no onDisconnection comes
    NOTE("cannot connect to ", host, ":", port, ": ", err)
    reconnectLater()
    return
  end
  beat = arm(beat, onBeat, interval)
end

connect()
