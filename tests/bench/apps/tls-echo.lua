-- The TLS echo application of the benchmark (tests/bench/bench.py, the tls scenarios): echo.lua
-- over TLS. The certificate and key (absolute paths, made by the driver) and the port (0: the
-- kernel picks one) come from its ini; the port is logged, which the driver waits for.
local server = mona:createTCPServer({
  certificate = mona.configs["bench.certificate"],
  key = mona.configs["bench.key"],
})
function server:onConnection(client)
  function client:onReception(data)
    self:send(data)
  end
end
local ok = server:start("127.0.0.1", mona.configs["bench.port"])
NOTE("listening on ", server.port)
