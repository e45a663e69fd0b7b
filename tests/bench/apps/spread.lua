-- The application of the workers group's spread run (tests/bench/bench.py, run_workers_spread):
-- every connection is greeted with the number of the worker that accepted it and that worker's
-- count so far, so the driver learns the spread from the connections themselves, each one
-- counted once, with no log line to wait for. The port comes from the ini: with [server]
-- workers every worker binds the same one (SO_REUSEPORT), so it cannot be 0.
local accepted = 0
local server = mona:createTCPServer()
function server:onConnection(client)
  accepted = accepted + 1
  client:send("worker " .. mona.worker .. " accepted " .. accepted .. "\n")
end
local ok = server:start("127.0.0.1", mona.configs["bench.port"])
NOTE("listening on ", server.port)
