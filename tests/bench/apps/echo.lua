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
