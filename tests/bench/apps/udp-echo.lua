-- The UDP echo application of the benchmark (tests/bench/bench.py): it binds port 0 and logs
-- the port the kernel picked, which the driver waits for.
local udp = mona:createUDPSocket()
function udp:onReception(data, address)
  self:send(data, address)
end
local err = udp:bind("127.0.0.1:0")
if err then ERROR(err) end
NOTE("listening on ", udp.address:match(":(%d+)$"))
