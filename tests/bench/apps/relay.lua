-- The relay of the benchmark (tests/bench/bench.py): for each accepted front connection a
-- TCPClient to the backend, bytes forwarded both ways.
-- bench.high > 0: the side being read is paused while the other side's queueing is above that
-- many bytes, and resumed in that side's onFlush (docs/api.md, "onFlush()"); 0: plain forwarding.
local HIGH = mona.configs["bench.high"]
local BACKEND = mona.configs["bench.backend"]

-- Forwards what from receives to to, and from's end to to.
local function forward(from, to)
  if HIGH > 0 then
    function from:onReception(data)
      to:send(data)
      if to.queueing > HIGH then from:pause() end
    end
    function to:onFlush() from:resume() end
  else
    function from:onReception(data) to:send(data) end
  end
  function from:onDisconnection() to:disconnect() end
end

local server = mona:createTCPServer()
function server:onConnection(front)
  local back = mona:createTCPClient()
  forward(front, back)
  forward(back, front)
  back:connect("127.0.0.1", BACKEND) -- what front sends meanwhile is queued
end
server:start("127.0.0.1", mona.configs["bench.port"])
NOTE("listening on ", server.port)
