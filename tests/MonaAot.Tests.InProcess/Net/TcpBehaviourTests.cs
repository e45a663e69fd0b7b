using System;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Tasks;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Net;

/// <summary>TCPClient and TCPServer behaviours (docs/api.md), one each, in-process with real
/// sockets on 127.0.0.1.</summary>
public class TcpBehaviourTests
{
    private static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);

    /// <summary>A server whose clients log what they receive and return what `keep(data)` says.</summary>
    private static string RecordingServer(string keep = "return 0") => $$"""
        server = mona:createTCPServer()
        function keep(data) {{keep}} end
        function server:onConnection(client)
          function client:onReception(data) NOTE("got ", data) return keep(data) end
          function client:onDisconnection() NOTE("gone ", self.error) end
        end
        assert(server:start("127.0.0.1", 0))
        NOTE("port ", server.port)
        """;

    [Test]
    public async Task Connect_TextThatCanBeNoName_FailsAtOnce_NothingResolved()
    {
        string result = await TcpApp.ResultOf("c = mona:createTCPClient()", "return c:connect('999.1.1.1', 80)");

        await Assert.That(result).IsEqualTo("invalid address '999.1.1.1' (neither an IP address nor a host name)");
    }

    [Test]
    public async Task BytesLeft_KeptTailComesBackFirst()
    {
        await using TcpApp app = await TcpApp.Start(RecordingServer("if data == 'abcde' then return 2 end return 0"));
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));

        await socket.SendAsync(Ascii("abcde"), SocketFlags.None);
        await app.Log.WaitFor("got abcde");
        await socket.SendAsync(Ascii("fg"), SocketFlags.None);

        await app.Log.WaitFor("got defg");
    }

    [Test]
    public async Task BytesLeft_LargerThanData_IsClampedAndWarnedOnce()
    {
        await using TcpApp app = await TcpApp.Start(RecordingServer("if #data < 6 then return 100 end return 0"));
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));

        await socket.SendAsync(Ascii("xy"), SocketFlags.None);
        await app.Log.WaitFor("got xy");
        await socket.SendAsync(Ascii("z"), SocketFlags.None);
        await app.Log.WaitFor("got xyz");
        await socket.SendAsync(Ascii("123"), SocketFlags.None);
        await app.Log.WaitFor("got xyz123");

        await Assert.That(app.Log.Messages.FindAll(m => m.Contains("clamped")).Count).IsEqualTo(1);
    }

    [Test]
    [Arguments("return nil")]
    [Arguments("return -5")]
    [Arguments("return 'many'")]
    [Arguments("error('handler failed')")]
    public async Task BytesLeft_NilNegativeNonNumberOrError_ConsumesAll(string keep)
    {
        await using TcpApp app = await TcpApp.Start(RecordingServer(keep));
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));

        await socket.SendAsync(Ascii("first"), SocketFlags.None);
        await app.Log.WaitFor("got first");
        await socket.SendAsync(Ascii("second"), SocketFlags.None);

        await app.Log.WaitFor("got second");
    }

    [Test]
    public async Task HandlerError_IsLoggedWithLine_ConnectionGoesOn()
    {
        await using TcpApp app = await TcpApp.Start("""
            server = mona:createTCPServer()
            function server:onConnection(client)
              function client:onReception(data)
                if data == "boom" then error("exploded") end
                self:send(data)
              end
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """);
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));

        await socket.SendAsync(Ascii("boom"), SocketFlags.None);
        await app.Log.WaitFor("exploded");
        await socket.SendAsync(Ascii("still here"), SocketFlags.None);

        await Assert.That(Encoding.ASCII.GetString(await TcpApp.ReadExactly(socket, 10))).IsEqualTo("still here");
        MonaAot.Diagnostics.LogEntry error = app.Log.Entries.Find(e => e.Message.StartsWith("exploded"));
        await Assert.That(error.File).IsEqualTo("main.lua");
        await Assert.That(error.Line).IsEqualTo(4);
    }

    [Test]
    public async Task Connect_Refused_SetsErrorThenDisconnectionOnce()
    {
        using Socket probe = TcpApp.RefusingPort(out int port);
        await using TcpApp app = await TcpApp.Start($$"""
            client = mona:createTCPClient()
            function client:onDisconnection() NOTE("disconnected ", self.error, " connected=", self.connected) end
            NOTE("connect returned ", client:connect("127.0.0.1", {{port}}))
            """);

        await app.Log.WaitFor("disconnected ");

        await Assert.That(app.Log.Messages).Contains("connect returned ");
        await Assert.That(app.Log.MessagesStartingWith("disconnected ")).IsEquivalentTo(new[] { $"disconnected connection refused (127.0.0.1:{port}) connected=(false)" });
    }

    [Test]
    public async Task Connect_Localhost_ResolvesAndConnects()
    {
        using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        await using TcpApp app = await TcpApp.Start($$"""
            client = mona:createTCPClient()
            function client:onReception(data) NOTE("client got ", data, " from ", self.peerAddress) end
            assert(client:connect("localhost", {{port}}) == nil)
            client:send("queued before connect")
            """);

        using Socket accepted = await listener.AcceptAsync();
        byte[] first = await TcpApp.ReadExactly(accepted, "queued before connect".Length);
        await accepted.SendAsync(Ascii("hi"), SocketFlags.None);

        await Assert.That(Encoding.ASCII.GetString(first)).IsEqualTo("queued before connect");
        await Assert.That(await app.Log.WaitFor("client got hi")).IsEqualTo($"client got hi from 127.0.0.1:{port}");
    }

    private sealed class FailingResolver : MonaAot.Net.IResolver
    {
        public Task<IPAddress[]> ResolveAsync(string host) => Task.FromException<IPAddress[]>(new SocketException((int)SocketError.HostNotFound));
    }

    [Test]
    public async Task Connect_UnresolvableName_ErrorThroughDisconnection()
    {
        var www = new TempWww();
        www.WriteApp("", """
            client = mona:createTCPClient()
            function client:onDisconnection() NOTE("disconnected ", self.error) end
            client:connect("no-such-host.invalid", 80)
            """);
        using var harness = new HostHarness(www, resolver: new FailingResolver());
        harness.StartLoop();
        await harness.OnLoop(() => { harness.Rescan(); return 0; });

        string message = await harness.Log.WaitFor("disconnected ");

        await Assert.That(message).StartsWith("disconnected cannot resolve 'no-such-host.invalid'");
        www.Dispose();
    }

    [Test]
    public async Task PeerReset_SetsError()
    {
        await using TcpApp app = await TcpApp.Start(RecordingServer());
        Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));
        await socket.SendAsync(Ascii("hello"), SocketFlags.None);
        await app.Log.WaitFor("got hello");

        socket.LingerState = new LingerOption(true, 0); // close with RST
        socket.Dispose();

        string gone = await app.Log.WaitFor("gone ");
        if (!(Wine.IsRunning && gone == "gone (null)")) // WineNet: a reset as an end of stream
            await Assert.That(gone).StartsWith("gone connection reset by peer (127.0.0.1:");
        await app.Run("NOTE('checked')");
        await app.Log.WaitFor("checked");
        await Assert.That(app.Log.MessagesStartingWith("gone ").Count).IsEqualTo(1);
    }

    [Test]
    public async Task PeerClose_IsNormal_ErrorNil()
    {
        await using TcpApp app = await TcpApp.Start(RecordingServer());
        using (Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port ")))
        {
            await socket.SendAsync(Ascii("hello"), SocketFlags.None);
            await app.Log.WaitFor("got hello");
        }

        await Assert.That(await app.Log.WaitFor("gone ")).IsEqualTo("gone (null)");
    }

    [Test]
    public async Task Disconnect_DeliversQueuedData_ThenFiresOnceLater()
    {
        await using TcpApp app = await TcpApp.Start("""
            server = mona:createTCPServer()
            function server:onConnection(client)
              local calls = 0
              function client:onDisconnection() calls = calls + 1 NOTE("disconnection ", calls, " ", self.error) end
              client:send(string.rep("0123456789abcdef", 262144)) -- 4 MiB, more than the kernel takes at once
              client:disconnect()
              NOTE("after disconnect connected=", client.connected, " calls=", calls)
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """);
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));

        byte[] all = await TcpApp.ReadToEnd(socket);

        await Assert.That(all.Length).IsEqualTo(4 << 20);
        await Assert.That(Encoding.ASCII.GetString(all, all.Length - 16, 16)).IsEqualTo("0123456789abcdef");
        await app.Log.WaitFor("disconnection ");
        await Assert.That(app.Log.Messages).Contains("after disconnect connected=(false) calls=0");
        await Assert.That(app.Log.MessagesStartingWith("disconnection ")).IsEquivalentTo(new[] { "disconnection 1 (null)" });
        await Assert.That(await app.StopAndCountOpenSockets()).IsEqualTo(0);
    }

    /// <summary>send() goes straight to send(2) from C when nothing is queued (DirectWriteGate); when
    /// the kernel takes only part, C# must queue exactly the rest, and later sends must follow
    /// the queue, never overtake it. Every 4-byte word differs, so a byte lost, doubled or out
    /// of place shows.</summary>
    [Test]
    public async Task ShortDirectSend_QueuesExactlyTheRest_InOrder()
    {
        await using TcpApp app = await TcpApp.Start("""
            server = mona:createTCPServer()
            function server:onConnection(client)
              local chunks = {}
              for c = 0, 63 do
                local words = {}
                for i = 0, 65535 do words[i + 1] = string.pack("<I4", c * 65536 + i) end
                chunks[c + 1] = table.concat(words)
              end
              client:send(table.concat(chunks, "", 1, 48))  -- 12 MiB: more than the kernel takes at once
              client:send(table.concat(chunks, "", 49, 64)) -- 4 MiB, queued behind it
              client:send(string.pack("<I4", 4194304))      -- and one more word
              client:disconnect()
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """);
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));

        byte[] all = await TcpApp.ReadToEnd(socket);

        await Assert.That(all.Length).IsEqualTo(4 * 4194305);
        int wrong = -1;
        for (int i = 0; i <= 4194304 && wrong < 0; i++)
        {
            if (BitConverter.ToInt32(all, 4 * i) != i)
                wrong = i;
        }
        await Assert.That(wrong).IsEqualTo(-1);
    }

    /// <summary>The direct path counts what it sends in mona:stats() like the C# path does.</summary>
    [Test]
    public async Task DirectSends_AreCountedInStats()
    {
        await using TcpApp app = await TcpApp.Start(TcpEchoTests.EchoServer);
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));
        for (int i = 0; i < 10; i++)
        {
            await socket.SendAsync(Ascii("0123456789"), SocketFlags.None);
            await TcpApp.ReadExactly(socket, 10);
        }

        await app.Run("NOTE('sent ', mona:stats().bytesSent)");

        await Assert.That(await app.Log.WaitFor("sent ")).IsEqualTo("sent 100");
    }

    [Test]
    public async Task ServerStop_KeepsAcceptedClients_RefusesNewOnes()
    {
        await using TcpApp app = await TcpApp.Start(TcpEchoTests.EchoServer);
        int port = await app.Log.WaitForNumber("port ");
        using Socket socket = await TcpApp.Connect(port);

        await app.Run("server:stop() NOTE('running ', server.running, ' port ', server.port)");
        await app.Log.WaitFor("running (false)");
        await socket.SendAsync(Ascii("still echoed"), SocketFlags.None);

        await Assert.That(Encoding.ASCII.GetString(await TcpApp.ReadExactly(socket, 12))).IsEqualTo("still echoed");
        await Assert.That(async () => await TcpApp.Connect(port)).Throws<SocketException>();
    }

    [Test]
    public async Task Start_WhileRunning_RestartsOnNewAddress()
    {
        // First on 127.0.0.3, where no other test binds, so that its port, once closed, stays
        // refused; then on another address, not only another port 0: the kernel may hand the
        // port just closed out again (seen under Wine).
        await using TcpApp app = await TcpApp.Start(TcpEchoTests.EchoServer.Replace("\"127.0.0.1\"", "\"127.0.0.3\""));
        int first = await app.Log.WaitForNumber("port ");
        using (Socket before = await TcpApp.Connect(first, IPAddress.Parse("127.0.0.3")))
        {
            await before.SendAsync(Ascii("on"), SocketFlags.None);
            await Assert.That(Encoding.ASCII.GetString(await TcpApp.ReadExactly(before, 2))).IsEqualTo("on");
        }

        await app.Run("assert(server:start('127.0.0.2:0')) NOTE('moved to ', server.port)");
        int second = await app.Log.WaitForNumber("moved to ");
        using Socket socket = await TcpApp.Connect(second, IPAddress.Parse("127.0.0.2"));
        await socket.SendAsync(Ascii("ok"), SocketFlags.None);

        await Assert.That(Encoding.ASCII.GetString(await TcpApp.ReadExactly(socket, 2))).IsEqualTo("ok");
        await Assert.That(async () => await TcpApp.Connect(first, IPAddress.Parse("127.0.0.3"))).Throws<SocketException>();
    }

    [Test]
    public async Task Start_AddressInUse_ReturnsFalseAndLogs()
    {
        using var holder = new Socket(SocketType.Stream, ProtocolType.Tcp);
        holder.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        holder.Listen();
        int port = ((IPEndPoint)holder.LocalEndPoint!).Port;

        await using TcpApp app = await TcpApp.Start($"s = mona:createTCPServer() NOTE('started ', s:start('127.0.0.1', {port}), ' running ', s.running)");

        await Assert.That(await app.Log.WaitFor("started ")).IsEqualTo("started (false) running (false)");
        await Assert.That(app.Log.Entries.Exists(e => e.Level == MonaAot.Diagnostics.LogLevel.Error && e.Message.Contains("address in use"))).IsTrue();
    }

    [Test]
    public async Task UnreferencedClients_SurviveCollectGarbage()
    {
        using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        await using TcpApp app = await TcpApp.Start($$"""
            do
              local client = mona:createTCPClient()
              function client:onReception(data) NOTE("orphan got ", data) end
              client:connect("127.0.0.1", {{port}})
            end
            collectgarbage() collectgarbage()
            """);
        using Socket accepted = await listener.AcceptAsync();

        await app.Run("collectgarbage() collectgarbage()");
        await accepted.SendAsync(Ascii("ping"), SocketFlags.None);

        await app.Log.WaitFor("orphan got ping");
    }

    [Test]
    public async Task Reload_FreesThePort_NewVersionBindsIt()
    {
        await using TcpApp app = await TcpApp.Start(TcpEchoTests.EchoServer);
        int port = await app.Log.WaitForNumber("port ");

        app.Www.WriteApp("", $"server = mona:createTCPServer() NOTE('rebound ', server:start('127.0.0.1', {port}))");
        await app.Harness.OnLoop(() => { app.Harness.Rescan(); return 0; });

        await Assert.That(await app.Log.WaitFor("rebound ")).IsEqualTo("rebound (true)");
    }

    [Test]
    public async Task ReceiveLimit_EndsConnectionWithError()
    {
        await using TcpApp app = await TcpApp.Start(RecordingServer("return #data"), ini: "[tcp]\nreceiveLimit=4096\n");
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));

        try
        {
            for (int i = 0; i < 10; i++)
                await socket.SendAsync(new byte[1024], SocketFlags.None);
        }
        catch (SocketException)
        {
            // the server may already have ended the connection (the point of the test)
        }

        await Assert.That(await app.Log.WaitFor("gone ")).IsEqualTo("gone receive limit exceeded (4096 bytes unconsumed)");
    }

    [Test]
    public async Task SendLimit_EndsConnectionWithError()
    {
        await using TcpApp app = await TcpApp.Start("""
            server = mona:createTCPServer()
            function server:onConnection(client)
              function client:onDisconnection() NOTE("gone ", self.error) end
              local chunk = string.rep("x", 65536)
              for i = 1, 1024 do
                local err = client:send(chunk)
                if err then NOTE("send returned ", err) break end
              end
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """, ini: "[tcp]\nsendLimit=1048576\n");
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port ")); // never reads

        await Assert.That(await app.Log.WaitFor("send returned ")).IsEqualTo("send returned send queue limit exceeded (1048576 bytes queued)");
        await Assert.That(await app.Log.WaitFor("gone ")).IsEqualTo("gone send queue limit exceeded (1048576 bytes queued)");
    }

    [Test]
    [Arguments("return select(2, pcall(function() c:connect(nil, 80) end))", "bad argument #1 to 'connect' (string expected, got nil)")]
    [Arguments("return select(2, pcall(function() c:connect('127.0.0.1', 'http') end))", "bad argument #2 to 'connect' (number expected, got string)")]
    [Arguments("return select(2, pcall(function() c.connect('127.0.0.1', 80) end))", "bad argument #1 to 'connect' (TCPClient expected, got string)")]
    [Arguments("return select(2, pcall(function() c:send({}) end))", "bad argument #1 to 'send' (string expected, got table)")]
    [Arguments("return select(2, pcall(function() s:start({}) end))", "bad argument #1 to 'start' (number expected, got table)")]
    [Arguments("return select(2, pcall(function() s.stop(c) end))", "bad argument #1 to 'stop' (TCPServer expected, got TCPClient)")]
    // send's direct path (native/shim/mona_send.c) reads only a TCPClient's own block: not a
    // string of that block's size, nor another type's block of the same size, nor a userdata
    // of another size.
    [Arguments("return select(2, pcall(function() c.send(string.rep('x', 28), 'x') end))", "bad argument #1 to 'send' (TCPClient expected, got string)")]
    [Arguments("return select(2, pcall(function() c.send(mona:createUDPSocket(), 'x') end))", "bad argument #1 to 'send' (TCPClient expected, got UDPSocket)")]
    [Arguments("return select(2, pcall(function() c.send(io.stdout, 'x') end))", "bad argument #1 to 'send' (TCPClient expected, got FILE*)")]
    [Arguments("return c:connect('127.0.0.1', 70000)", "invalid port 70000 (0 to 65535)")]
    [Arguments("return c:send('x')", "not connected")]
    [Arguments("return tostring(c)", "TCPClient (not connected)")]
    [Arguments("return tostring(s)", "TCPServer (stopped)")]
    [Arguments("return tostring(c.connected) .. tostring(c.error) .. tostring(c.address) .. tostring(s.running)", "falsenilnilfalse")]
    [Arguments("return getmetatable(c)", "TCPClient")]
    public async Task ScriptMistakes_RaiseOrReturnMessages(string code, string expected)
    {
        string result = await TcpApp.ResultOf("c = mona:createTCPClient() s = mona:createTCPServer()", code);

        await Assert.That(result.EndsWith(expected, StringComparison.Ordinal)).IsTrue().Because($"got: {result}");
    }

    [Test]
    public async Task DirectSend_UpvalueReplacedWithAnotherUserdata_SendsThroughTheHostFunction()
    {
        // The debug library is open (docs/api.md): a script may put any value in send's
        // upvalues. The direct path (native/shim/mona_send.c) must then not read the block of
        // another object as its own tag and counter: a UDPSocket's block names its type and
        // descriptor where the counter's address was, one whose id equals TCPClient's tag
        // passed the check and the counter write went to that address.
        await using TcpApp app = await TcpApp.Start("""
            server = mona:createTCPServer()
            local foreign = { io.stdout }
            for i = 1, 300 do foreign[#foreign + 1] = mona:createUDPSocket() end
            function server:onConnection(client)
              function client:onReception(data)
                local send = self.send
                local _, own = debug.getupvalue(send, 3)
                for _, other in ipairs(foreign) do
                  debug.setupvalue(send, 3, other)
                  self:send("x")
                end
                debug.setupvalue(send, 3, own)
                self:send("!")
              end
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """);
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));

        await socket.SendAsync(Encoding.ASCII.GetBytes("go"), SocketFlags.None);

        await Assert.That(Encoding.ASCII.GetString(await TcpApp.ReadExactly(socket, 302))).IsEqualTo(new string('x', 301) + "!");
    }

    [Test]
    public async Task Connect_Twice_AlreadyConnected_ErrorClearedByNextConnect()
    {
        using Socket probe = TcpApp.RefusingPort(out int closed);
        using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        await using TcpApp app = await TcpApp.Start($$"""
            c = mona:createTCPClient()
            function c:onDisconnection()
              NOTE("failed with ", self.error)
              NOTE("second connect ", self:connect("127.0.0.1", {{port}}), " error now ", self.error)
              NOTE("third connect ", self:connect("127.0.0.1", {{port}}))
            end
            c:connect("127.0.0.1", {{closed}})
            """);

        await app.Log.WaitFor("failed with connection refused");
        using Socket accepted = await listener.AcceptAsync();

        await Assert.That(await app.Log.WaitFor("second connect ")).IsEqualTo("second connect (null) error now (null)");
        await Assert.That(await app.Log.WaitFor("third connect ")).IsEqualTo("third connect already connected");
    }
}
