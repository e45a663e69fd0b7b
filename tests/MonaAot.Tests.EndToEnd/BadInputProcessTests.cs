using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;
using TUnit.Core.Enums;

namespace MonaAot.Tests.EndToEnd;

/// <summary>
/// Every Lua-visible function and method, called by the published binary's own script with
/// every kind of wrong argument: each call must raise a readable error or return (a message or
/// nothing), and the process must stay up and keep serving. Addresses in the battery are
/// loopback or malformed only, and no name but localhost is ever resolved.
/// </summary>
// Linux only: it runs the published Linux binary (out/monaaot) as a child process.
[RunOn(OS.Linux)]
public class BadInputProcessTests
{
    // The battery: runs in main.lua, then serves a TCP echo to show it is still alive.
    private const string Battery = """
        local bad = table.pack(
          nil, true, false, 0, -1, 1.5, 0/0, math.huge, -math.huge, math.maxinteger, math.mininteger,
          "", "x", string.rep("y", 1000000), "not an address", "256.1.1.1:80", "[::1", ":", "::::",
          "127.0.0.1:99999", "127.0.0.1:-1", "localhost:0", "[::1]:70000", "127.0.0.1", "1e400",
          {}, {1, 2, 3}, setmetatable({}, {__tostring = function() error("tostring fails") end}),
          function() end, coroutine.create(function() end), io.stdout
        )
        local calls, raised, returned = 0, 0, 0
        local function try(f, ...)
          calls = calls + 1
          local ok, err = pcall(f, ...)
          if ok then returned = returned + 1
          elseif type(err) == "string" and #err > 0 then raised = raised + 1
          else error("a call raised a non-string error: " .. tostring(err)) end
        end
        -- every argument position, with each bad value, for up to three arguments
        local function hammer(name, f, self)
          for i = 1, bad.n do
            local a = bad[i]
            if self ~= nil then
              try(f, self, a)
              try(f, self, a, a)
              try(f, self, "127.0.0.1", a)
              try(f, self, a, 1)
            end
            try(f, a)                 -- called with '.' instead of ':'
            try(f, a, a, a)
          end
          try(f)
          if self ~= nil then try(f, self) end
        end

        -- mona's functions
        for _, name in ipairs({"createTCPClient", "createTCPServer", "createUDPSocket", "sendMail", "absolutePath", "time", "stats"}) do
          hammer(name, mona[name], mona)
        end
        -- log functions
        for _, name in ipairs({"FATAL", "CRITIC", "ERROR", "WARN", "NOTE", "INFO", "DEBUG", "TRACE"}) do
          hammer(name, _G[name], nil)
        end
        -- methods on fresh objects, on closed ones, and across types
        local makers = {
          TCPClient = function() return mona:createTCPClient() end,
          TCPServer = function() return mona:createTCPServer() end,
          UDPSocket = function() return mona:createUDPSocket() end,
        }
        local methods = {
          TCPClient = {"connect", "send", "disconnect"},
          TCPServer = {"start", "stop"},
          UDPSocket = {"bind", "connect", "send", "close", "joinGroup", "leaveGroup"},
        }
        local others = {}
        for kind, make in pairs(makers) do others[#others + 1] = make() end
        for kind, make in pairs(makers) do
          for _, method in ipairs(methods[kind]) do
            local fresh = make()
            hammer(kind .. "." .. method, fresh[method], fresh)
            local closed = make()
            if kind == "UDPSocket" then closed:bind("127.0.0.1:0") closed:close()
            elseif kind == "TCPServer" then closed:start("127.0.0.1", 0) closed:stop()
            else closed:disconnect() end
            hammer(kind .. "." .. method .. " closed", closed[method], closed)
            for _, other in ipairs(others) do try(fresh[method], other) end -- wrong self type
          end
          -- properties: reading anything, assigning anything
          local o = make()
          for _, key in ipairs({"address", "peerAddress", "error", "connected", "port", "running",
                                "multicastLoop", "multicastTTL", "allowBroadcast", "nonexistent", 1, true}) do
            try(function() return o[key] end)
            for i = 1, bad.n do try(function() o[key] = bad[i] end) end
          end
          try(function() return tostring(o) end)
          try(function() setmetatable(o, {}) end)
          try(function() return getmetatable(o) end)
        end
        -- handlers that raise, yield, or are wrapped coroutines, run by connections of its own
        local s = mona:createTCPServer()
        function s:onConnection(client)
          function client:onReception(data)
            if data == "raise" then error("handler raised") end
            if data == "yield" then coroutine.yield() end
            if data == "wrap" then
              self.onReception = coroutine.wrap(function(me)
                me:send("c1") coroutine.yield() me:send("c2")
              end)
            end
            self:send(data)
          end
        end
        assert(s:start("127.0.0.1", 0))
        NOTE("battery done: ", calls, " calls, ", raised, " raised, ", returned, " returned")
        local function probe(first, answers)
          local c = mona:createTCPClient()
          function c:onReception(data)
            NOTE("probe got ", data)
            if answers[data] then self:send(answers[data]) end
          end
          c:connect("127.0.0.1", s.port)
          c:send(first)
          return c
        end
        probes = {
          probe("raise", {}),
          probe("yield", {}),
          probe("wrap", {wrap = "w2", c1 = "w3", c2 = "w4"}), -- the fourth call finds the coroutine dead
          probe("alive", {}),
        }
        """;

    [Test]
    [Timeout(120_000)]
    public async Task EveryFunction_WithWrongArguments_RaisesOrReturns_AndTheServerStaysUp(CancellationToken cancel)
    {
        using var www = new TempWww();
        string ini = www.WriteIni("[smtp]\nhost=127.0.0.1\nport=1\ntimeout=1\n[lua]\nhandlerTimeout=60\n");
        www.WriteApp("", Battery);
        // In a network namespace of its own with only loopback up: whatever name the battery
        // makes it resolve, and wherever it makes it send, nothing can leave the machine.
        await using MonaProcess mona = MonaProcess.StartCommand("unshare", ["-n", "sh", "-c",
            "ip link set lo up && exec \"$0\" \"$@\"", .. MonaProcess.BinaryCommand, "--config", ini, "--log=5", www.Www]);

        string done = await mona.WaitForLineText("battery done: ", TimeSpan.FromSeconds(90));
        await mona.WaitForLine("handler raised", TcpProcessTests.Wait);
        await mona.WaitForLine("attempt to yield", TcpProcessTests.Wait);
        await mona.WaitForLine("cannot resume dead coroutine", TcpProcessTests.Wait);
        await mona.WaitForLine("probe got alive", TcpProcessTests.Wait);

        int calls = int.Parse(done.Split(' ')[^6]);
        await Assert.That(calls).IsGreaterThan(3000);
        await Assert.That(mona.Lines.Any(l => l.Contains("probe got c2"))).IsTrue();
        mona.Signal(MonaProcess.SIGTERM);
        await Assert.That(await mona.WaitForExit(TcpProcessTests.Wait)).IsEqualTo(0);
        await Assert.That(mona.Lines.Any(l => l.Contains("unhandled exception"))).IsFalse();
    }
}
