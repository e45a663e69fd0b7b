using System;
using System.Linq;
using System.Net.Sockets;
using System.Text;
using System.Threading.Tasks;
using MonaAot.Diagnostics;
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
    public async Task HandlerTimeout_StopsARunawayHandler_WithWhereItWas(string command)
    {
        await using TcpApp app = await TcpApp.Start(Server, "[lua]\nhandlerTimeout=1\n");
        int port = await app.Log.WaitForNumber("port ");
        using Socket looping = await TcpApp.Connect(port);

        await looping.SendAsync(Encoding.ASCII.GetBytes(command), SocketFlags.None);
        string error = await app.Log.WaitFor("handler stopped");

        await Assert.That(error).StartsWith("handler stopped after running 1 s ([lua] handlerTimeout)");
        await Assert.That(error).Contains("stack traceback:");
        LogEntry entry = app.Log.Entries.First(e => e.Message.StartsWith("handler stopped"));
        await Assert.That(entry.Level).IsEqualTo(LogLevel.Error);
        await Assert.That(entry.File).IsEqualTo("main.lua");
        await Assert.That(entry.Line).IsEqualTo(command == "loop" ? 4 : 6); // the looping line
        // The same connection and a new one are served as before.
        await Assert.That(await Echo(looping, "after")).IsEqualTo("after");
        using Socket other = await TcpApp.Connect(port);
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
