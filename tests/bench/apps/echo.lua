-- The TCP echo application of the benchmark (tests/bench/bench.py): the port comes from its
-- ini (0: the kernel picks one) and is logged, which the driver waits for.
local server = mona:createTCPServer()
function server:onConnection(client)
  function client:onReception(data)
    self:send(data)
  end
end
local ok = server:start("127.0.0.1", mona.configs["bench.port"])
NOTE("listening on ", server.port)

-- The heaps for the driver's memory table, once a second (not per message): it reads the last
-- line logged when the load ends and 5 s after it.
local seq = 0
mona:setTimer(function()
  seq = seq + 1
  local stats = mona:stats()
  NOTE("bench-stats seq=", seq, " lua=", stats.luaMemoryBytes, " managed=", stats.managedHeapBytes)
  return 1000
end, 1000)
