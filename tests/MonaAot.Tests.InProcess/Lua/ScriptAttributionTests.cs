using System;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Tasks;
using MonaAot.Diagnostics;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Lua;

/// <summary>Every message a script causes names the script's file and line (docs/api.md,
/// "Conventions"; issue 13): the line of the call for a host function, the handler's for what
/// follows an event.</summary>
public class ScriptAttributionTests
{
    [Test]
    public async Task TcpServerStart_AddressInUse_ReturnsFalseAndWhy_LoggedAtTheCallingLine()
    {
        using var taken = new Socket(SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        int port = ((IPEndPoint)taken.LocalEndPoint!).Port;
        await using TcpApp app = await TcpApp.Start($$"""
            server = mona:createTCPServer()
            local ok, why = server:start("127.0.0.1", {{port}})
            NOTE("start returned ", ok, " ", why, " running ", server.running)
            """);

        string returned = await app.Log.WaitFor("start returned ");
        LogEntry error = app.Log.Entries.Single(e => e.Level == LogLevel.Error);

        await Assert.That(returned).IsEqualTo($"start returned (false) address in use (127.0.0.1:{port}) running (false)");
        await Assert.That(error.Message).IsEqualTo($"TCPServer cannot start on 127.0.0.1:{port}: address in use (127.0.0.1:{port})");
        await Assert.That(error.File).IsEqualTo("main.lua");
        await Assert.That(error.Line).IsEqualTo(2);
    }

    [Test]
    [Arguments("70000", "invalid port 70000 (0 to 65535)")]
    [Arguments("\"no-such-host.invalid\", 80", "cannot resolve 'no-such-host.invalid' (start takes numeric addresses and names of the hosts file)")]
    public async Task TcpServerStart_InvalidAddress_ReturnsFalseAndWhy(string args, string why)
    {
        await using TcpApp app = await TcpApp.Start($$"""
            server = mona:createTCPServer()
            local ok, started, why = pcall(server.start, server, {{args}})
            NOTE("start returned ", started, " ", why)
            """);

        string returned = await app.Log.WaitFor("start returned ");
        LogEntry error = app.Log.Entries.Single(e => e.Level == LogLevel.Error);

        await Assert.That(returned).IsEqualTo($"start returned (false) {why}");
        await Assert.That(error.Message).IsEqualTo($"TCPServer cannot start: {why}");
        // Called through pcall: the line is the script's, not pcall's "[C]".
        await Assert.That(error.File).IsEqualTo("main.lua");
        await Assert.That(error.Line).IsEqualTo(2);
    }

    [Test]
    public async Task OnReception_AnswerLargerThanReceived_WarnNamesTheHandler()
    {
        await using TcpApp app = await TcpApp.Start("""
            server = mona:createTCPServer()
            function server:onConnection(client)
              function client:onReception(data)
                return 1000
              end
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """);
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));

        await socket.SendAsync(Encoding.ASCII.GetBytes("abc"), SocketFlags.None);
        LogEntry warn = await app.Log.WaitForEntry(e => e.Message.Contains("clamped"), "the clamped WARN");

        await Assert.That(warn.Level).IsEqualTo(LogLevel.Warn);
        await Assert.That(warn.File).IsEqualTo("main.lua");
        await Assert.That(warn.Line).IsEqualTo(3);
    }

    private sealed class FailingResolver : MonaAot.Net.IResolver
    {
        public Task<IPAddress[]> ResolveAsync(string host) => Task.FromException<IPAddress[]>(new SocketException((int)SocketError.HostNotFound));
    }

    [Test]
    public async Task UdpSend_NameThatFailsLater_WarnNamesTheCallingLine()
    {
        var www = new TempWww();
        www.WriteApp("", """
            udp = mona:createUDPSocket()

            NOTE("send returned ", udp:send("x", "no-such-host.invalid", 9))
            """);
        using var harness = new HostHarness(www, resolver: new FailingResolver());
        harness.StartLoop();
        await harness.OnLoop(() => { harness.Rescan(); return 0; });

        LogEntry warn = await harness.Log.WaitForEntry(e => e.Level == LogLevel.Warn, "the late WARN");

        await Assert.That(warn.Message).StartsWith("send to no-such-host.invalid:9: cannot resolve");
        await Assert.That(warn.File).IsEqualTo("main.lua");
        await Assert.That(warn.Line).IsEqualTo(3);
        www.Dispose();
    }

    [Test]
    public async Task MemoryLimit_UncaughtInAHandler_LoggedAtTheHandlerWithATraceback()
    {
        await using TcpApp app = await TcpApp.Start("""
            server = mona:createTCPServer()
            function server:onConnection(client)
              function client:onReception(data)
                local t = {}
                for i = 1, 1e9 do t[i] = string.rep("x", 200) .. i end
              end
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """, "[lua]\nmemoryLimit=33554432\nhandlerTimeout=0\n");
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));

        await socket.SendAsync(Encoding.ASCII.GetBytes("eat"), SocketFlags.None);
        LogEntry error = await app.Log.WaitForEntry(e => e.Message.StartsWith("not enough memory"), "the memory error");

        await Assert.That(error.Level).IsEqualTo(LogLevel.Error);
        await Assert.That(error.File).IsEqualTo("main.lua");
        await Assert.That(error.Line).IsEqualTo(3);
        await Assert.That(error.Message).Contains("stack traceback:\n\tmain.lua:3: in function <main.lua:3>");
    }

    [Test]
    public async Task LogFunction_CalledThroughPcall_NamesTheScriptLine()
    {
        await using TcpApp app = await TcpApp.Start("""

            pcall(NOTE, "through pcall")
            """);

        LogEntry note = await app.Log.WaitForEntry(e => e.Message == "through pcall", "the NOTE");

        await Assert.That(note.File).IsEqualTo("main.lua");
        await Assert.That(note.Line).IsEqualTo(2);
    }
}
