using System;
using System.Linq;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using MonaAot.Diagnostics;
using MonaAot.Lua;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Lua;

/// <summary>[lua] handlerTimeout and memoryLimit: a runaway handler becomes a Lua error in that
/// handler, logged with where it was, and the server goes on serving.</summary>
public class ScriptLimitsTests
{
    // An echo server whose handler misbehaves on command.
    private const string Server = """
        server = mona:createTCPServer()
        function server:onConnection(client)
          function client:onReception(data)
            if data == "loop" then while true do end end
            if data == "stubborn" then
              while true do pcall(function() while true do end end) end
            end
            if data == "coroutine" then coroutine.wrap(function() while true do end end)() end
            if data == "coroutine-stubborn" then
              while true do pcall(coroutine.wrap(function() while true do end end)) end
            end
            if data == "eat-then-host" then
              hog = {}
              pcall(function() for i = 1, 1e9 do hog[i] = string.rep("x", 200) .. i end end)
              -- at the limit: host functions that allocate must answer, not raise through C#
              local made = 0
              for i = 1, 200 do
                local s, c = mona:stats(), mona:createTCPClient()
                if s and c and c:send("x") then made = made + 1 end
              end
              hog = nil
              collectgarbage()
              NOTE("host calls at the limit: ", made)
            end
            if data == "eat" then
              local t = {}
              for i = 1, 1e9 do t[i] = string.rep("x", 200) .. i end
            end
            if data == "eat-caught" then
              local ok, err = pcall(function()
                local t = {}
                for i = 1, 1e9 do t[i] = string.rep("x", 200) .. i end
              end)
              collectgarbage()
              NOTE("caught ", err, "; heap now ", math.floor(collectgarbage("count") / 1024), " MiB")
            end
            self:send(data)
          end
        end
        assert(server:start("127.0.0.1", 0))
        NOTE("port ", server.port)
        """;

    private static async Task<string> Echo(Socket socket, string text)
    {
        await socket.SendAsync(Encoding.ASCII.GetBytes(text), SocketFlags.None);
        return Encoding.ASCII.GetString(await TcpApp.ReadExactly(socket, text.Length));
    }

    [Test]
    [Arguments("loop")]
    [Arguments("stubborn")]
    [Arguments("coroutine")]
    [Arguments("coroutine-stubborn")]
    public async Task HandlerTimeout_StopsARunawayHandler_WithWhereItWas(string command)
    {
        await using TcpApp app = await TcpApp.Start(Server, "[lua]\nhandlerTimeout=1\n");
        int port = await app.Log.WaitForNumber("port ");
        using Socket looping = await TcpApp.Connect(port);

        await looping.SendAsync(Encoding.ASCII.GetBytes(command), SocketFlags.None);
        // (A coroutine.wrap adds the caller's position in front: "main.lua:8: handler stopped...".)
        LogEntry entry = await app.Log.WaitForEntry(e => e.Message.Contains("handler stopped"), "'handler stopped'");

        await Assert.That(entry.Message).Contains("handler stopped after running 1 s ([lua] handlerTimeout)");
        await Assert.That(entry.Message).Contains("stack traceback:");
        await Assert.That(entry.Level).IsEqualTo(LogLevel.Error);
        await Assert.That(entry.File).IsEqualTo("main.lua");
        await Assert.That(entry.Line).IsEqualTo(command switch // the looping line
        {
            "loop" => 4,
            "stubborn" => 6,
            "coroutine" => 8,
            _ => 10,
        });
        // The same connection and a new one are served as before.
        await Assert.That(await Echo(looping, "after")).IsEqualTo("after");
        using Socket other = await TcpApp.Connect(port);
        await Assert.That(await Echo(other, "fine")).IsEqualTo("fine");
    }

    // A handler that says it runs, then never returns. The NOTE is on the loop's line: the
    // interrupt may come while NOTE itself still runs, and then stops the next instruction.
    private const string Endless = """
        server = mona:createTCPServer()
        function server:onConnection(client)
          function client:onReception(data)
            if data == "loop" then NOTE("running ", data) while true do end end
            if data == "stubborn" then NOTE("running ", data) while true do pcall(function() while true do end end) end end
            self:send(data)
          end
        end
        assert(server:start("127.0.0.1", 0))
        NOTE("port ", server.port)
        """;

    [Test]
    [Timeout(30_000)]
    [Arguments("loop", 4)]
    [Arguments("stubborn", 5)]
    public async Task Interrupt_WithoutHandlerTimeout_StopsTheRunningCall_WithWhereItWas(string command, int line, CancellationToken cancellation)
    {
        // handlerTimeout=0: no stop hook until the interrupt installs one (from this thread, as
        // a signal handler does).
        await using TcpApp app = await TcpApp.Start(Endless, "[lua]\nhandlerTimeout=0\n");
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));
        await socket.SendAsync(Encoding.ASCII.GetBytes(command), SocketFlags.None, cancellation);
        await app.Log.WaitFor("running " + command);

        await Assert.That(app.Harness.Vm.Interrupt(InterruptSignal.Sigterm)).IsTrue();

        LogEntry entry = await app.Log.WaitForEntry(e => e.Message.Contains("interrupted"), "'interrupted'");
        await Assert.That(entry.Message).StartsWith("interrupted by SIGTERM");
        await Assert.That(entry.Message).Contains("stack traceback:");
        await Assert.That(entry.Level).IsEqualTo(LogLevel.Error);
        await Assert.That(entry.File).IsEqualTo("main.lua");
        await Assert.That(entry.Line).IsEqualTo(line);
        // The hook is gone with the call: the next handlers run to their end.
        await Assert.That(await Echo(socket, "after")).IsEqualTo("after");
        using Socket other = await TcpApp.Connect(await app.Log.WaitForNumber("port "));
        await Assert.That(await Echo(other, "fine")).IsEqualTo("fine");
    }

    [Test]
    public async Task MemoryLimit_RunawayAllocation_IsAnErrorInThatHandler()
    {
        await using TcpApp app = await TcpApp.Start(Server, "[lua]\nmemoryLimit=33554432\nhandlerTimeout=0\n");
        int port = await app.Log.WaitForNumber("port ");
        using Socket socket = await TcpApp.Connect(port);

        await socket.SendAsync(Encoding.ASCII.GetBytes("eat"), SocketFlags.None);
        string error = await app.Log.WaitFor("not enough memory");

        await Assert.That(app.Log.Entries.First(e => e.Message.StartsWith("not enough memory")).Level).IsEqualTo(LogLevel.Error);
        await Assert.That(await Echo(socket, "after")).IsEqualTo("after");
        await Assert.That(app.Harness.Vm.MemoryInUse).IsLessThanOrEqualTo(32L << 20);
        await Assert.That(error).IsNotEmpty();
    }

    [Test]
    public async Task MemoryLimit_HostFunctionsAtTheLimit_AnswerInsteadOfRaisingThroughCSharp()
    {
        await using TcpApp app = await TcpApp.Start(Server, "[lua]\nmemoryLimit=33554432\nhandlerTimeout=0\n");
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));

        await socket.SendAsync(Encoding.ASCII.GetBytes("eat-then-host"), SocketFlags.None);

        await Assert.That(await app.Log.WaitFor("host calls at the limit: ")).IsEqualTo("host calls at the limit: 200");
        await Assert.That(Encoding.ASCII.GetString(await TcpApp.ReadExactly(socket, 13))).IsEqualTo("eat-then-host");
        await Assert.That(await Echo(socket, "after")).IsEqualTo("after");
    }

    [Test]
    public async Task MemoryLimit_CaughtByTheScript_LeavesItRunningWithItsMemoryBack()
    {
        await using TcpApp app = await TcpApp.Start(Server, "[lua]\nmemoryLimit=33554432\nhandlerTimeout=0\n");
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));

        await socket.SendAsync(Encoding.ASCII.GetBytes("eat-caught"), SocketFlags.None);
        string caught = await app.Log.WaitFor("caught ");

        await Assert.That(caught).StartsWith("caught not enough memory; heap now ");
        string[] words = caught.Split(' ');
        await Assert.That(int.Parse(words[^2])).IsLessThan(4); // "... heap now N MiB"
        await Assert.That(Encoding.ASCII.GetString(await TcpApp.ReadExactly(socket, 10))).IsEqualTo("eat-caught");
    }
}
