-- The UDP echo application of the benchmark (tests/bench/bench.py): it binds port 0 and logs
-- the port the kernel picked, which the driver waits for.
local udp = mona:createUDPSocket()
function udp:onReception(data, address)
  self:send(data, address)
end
local err = udp:bind("127.0.0.1:0")
if err then ERROR(err) end
NOTE("listening on ", udp.address:match(":(%d+)$"))

-- The heaps for the driver's memory table, as in echo.lua.
local seq = 0
mona:setTimer(function()
  seq = seq + 1
  local stats = mona:stats()
  NOTE("bench-stats seq=", seq, " lua=", stats.luaMemoryBytes, " managed=", stats.managedHeapBytes)
  return 1000
end, 1000)
