using System;
using System.Net.Sockets;
using System.Text;
using System.Threading.Tasks;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Net;

/// <summary>Ending a connection without losing data (docs/api.md, "client:disconnect()",
/// "client:shutdown()"): disconnect, shutdown, allowHalfOpen and onEnd, [tcp] sendTimeout;
/// in-process, real sockets.</summary>
public class TcpEndingTests
{
    private static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);

    [Test]
    public async Task Disconnect_SlowReader_GetsEveryByte_NoError()
    {
        await using TcpApp app = await TcpApp.Start("""
            server = mona:createTCPServer()
            function server:onConnection(client)
              function client:onDisconnection() NOTE("gone ", self.error) end
              client:send(string.rep("d", 8 * 1048576))
              client:disconnect()
              NOTE("connected ", tostring(client.connected))
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """);
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 65536 };
        await socket.ConnectAsync(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, await app.Log.WaitForNumber("port ")));
        await Assert.That(await app.Log.WaitFor("connected ")).IsEqualTo("connected false");

        // The reader stalls: more than the kernel buffers hold is still queued, so the end
        // cannot have been reported yet (the old 2 s no-progress reset would have cut it here).
        await Task.Delay(3000);
        await Assert.That(app.Log.MessagesStartingWith("gone ")).IsEmpty();
        byte[] all = await TcpApp.ReadToEnd(socket);

        await Assert.That(all.Length).IsEqualTo(8 << 20);
        await Assert.That(await app.Log.WaitFor("gone ")).IsEqualTo("gone (null)");
    }

    [Test]
    public async Task Disconnect_SlowButSteadyReader_IsNotTimedOut()
    {
        // Wine completes a posted send only when its Linux socket is writable again, which a
        // reader this slow does not make happen within the timeout; Linux and Windows count
        // what the peer acknowledges.
        Skip.When(Wine.IsRunning, "Wine reports no progress of a send until the socket is writable");
        await using TcpApp app = await TcpApp.Start("""
            server = mona:createTCPServer()
            function server:onConnection(client)
              function client:onDisconnection() NOTE("gone ", self.error) end
              client:send(string.rep("w", 8 * 1048576))
              client:disconnect()
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """, ini: "[tcp]\nsendTimeout=4\n");
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 65536 };
        await socket.ConnectAsync(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, await app.Log.WaitForNumber("port ")));

        // 40 KiB/s for 6 s, paced by the clock (a late turn catches up): the sender's kernel
        // buffer (MiBs) never drains far enough to make its socket writable, yet the peer takes
        // bytes all along. Its window opens in steps of about half its 128 KiB buffer, every
        // 1.6 s: well within the 4 s timeout, which the slow phase outlasts.
        var buffer = new byte[4096];
        long total = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 60; i++)
        {
            total += await socket.ReceiveAsync(buffer, SocketFlags.None);
            TimeSpan due = TimeSpan.FromMilliseconds(100 * (i + 1)) - clock.Elapsed;
            if (due > TimeSpan.Zero)
                await Task.Delay(due);
        }
        await Assert.That(app.Log.MessagesStartingWith("gone ")).IsEmpty();
        total += (await TcpApp.ReadToEnd(socket)).Length;

        await Assert.That(total).IsEqualTo(8L << 20);
        await Assert.That(await app.Log.WaitFor("gone ")).IsEqualTo("gone (null)");
    }

    [Test]
    public async Task ConnectAgainDuringADrain_BothConnectionsReportTheirEnd()
    {
        using Socket slow = TcpApp.Listen(out int slowPort);
        using Socket probe = TcpApp.RefusingPort(out int refusedPort);
        await using TcpApp app = await TcpApp.Start($$"""
            c = mona:createTCPClient()
            function c:onDisconnection() NOTE("gone ", self.error) end
            c:connect("127.0.0.1", {{slowPort}})
            c:send(string.rep("z", 32 * 1048576)) -- more than the kernel buffers hold
            c:disconnect()                         -- drains while the peer does not read
            c:connect("127.0.0.1", {{refusedPort}}) -- refused at once
            c = nil
            collectgarbage()
            """);
        using Socket peer = await slow.AcceptAsync();

        await Assert.That(await app.Log.WaitFor("gone ")).IsEqualTo($"gone connection refused (127.0.0.1:{refusedPort})");
        byte[] all = await TcpApp.ReadToEnd(peer);

        await Assert.That(all.Length).IsEqualTo(32 << 20);
        await app.Log.WaitForEntry(e => e.Message == "gone (null)", "the drained connection's end");
        await Assert.That(app.Log.MessagesStartingWith("gone ").Count).IsEqualTo(2);
    }

    [Test]
    public async Task AllowHalfOpenTurnedOffInOnEnd_EndsTheConnectionOnce()
    {
        await using TcpApp app = await TcpApp.Start("""
            server = mona:createTCPServer()
            function server:onConnection(client)
              client.allowHalfOpen = true
              function client:onEnd() self.allowHalfOpen = false NOTE("end ", tostring(self.connected)) end
              function client:onDisconnection() NOTE("gone ", self.error) end
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """);
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));

        socket.Shutdown(SocketShutdown.Send);

        await Assert.That((await TcpApp.ReadToEnd(socket)).Length).IsEqualTo(0);
        await Assert.That(await app.Log.WaitFor("end ")).IsEqualTo("end false"); // ended at once; onDisconnection follows on a later turn
        await Assert.That(await app.Log.WaitFor("gone ")).IsEqualTo("gone (null)");
        await app.Run("NOTE('checked')");
        await app.Log.WaitFor("checked");
        await Assert.That(app.Log.MessagesStartingWith("gone ").Count).IsEqualTo(1);
    }

    [Test]
    public async Task Disconnect_WhileConnecting_FailedConnectNamesTheBytesLost()
    {
        using Socket probe = TcpApp.RefusingPort(out int port);
        await using TcpApp app = await TcpApp.Start($$"""
            c = mona:createTCPClient()
            function c:onDisconnection() NOTE("gone ", self.error) end
            c:connect("127.0.0.1", {{port}})
            c:send("12345")
            c:disconnect()
            """);

        await Assert.That(await app.Log.WaitFor("gone ")).IsEqualTo($"gone connection refused (127.0.0.1:{port}), 5 queued bytes not delivered");
    }

    [Test]
    public async Task Disconnect_PeerTakesNothing_SendTimeoutNamesBytesLost_AndResets()
    {
        await using TcpApp app = await TcpApp.Start("""
            server = mona:createTCPServer()
            function server:onConnection(client)
              function client:onDisconnection() NOTE("gone ", self.error) end
              client:send(string.rep("t", 32 * 1048576)) -- far more than the kernel buffers hold
              client:disconnect()
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """, ini: "[tcp]\nsendTimeout=1\n");
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));

        string gone = await app.Log.WaitFor("gone ", TimeSpan.FromSeconds(30));
        await Assert.That(gone).Matches(@"^gone send timed out: the peer took no data for 1 s \(\[tcp\] sendTimeout\), [1-9][0-9]* queued bytes not delivered$");
        if (Wine.IsRunning)
            return; // Wine reports a peer's reset to a reading socket as a clean end (TcpGracefulTests)
        SocketException? reset = null;
        try
        {
            await TcpApp.ReadToEnd(socket);
        }
        catch (SocketException e)
        {
            reset = e;
        }
        await Assert.That(reset).IsNotNull().Because("a clean end would hide the truncation");
        await Assert.That(reset!.SocketErrorCode).IsEqualTo(SocketError.ConnectionReset);
    }

    [Test]
    public async Task Disconnect_NothingQueued_OneNormalDisconnectionOnALaterTurn()
    {
        await using TcpApp app = await TcpApp.Start("""
            server = mona:createTCPServer()
            function server:onConnection(client)
              inside = true
              function client:onDisconnection() NOTE("gone ", self.error, " ", tostring(inside)) end
              client:disconnect()
              inside = false
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """);
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));

        await Assert.That((await TcpApp.ReadToEnd(socket)).Length).IsEqualTo(0);
        await Assert.That(await app.Log.WaitFor("gone ")).IsEqualTo("gone (null) false");
        await app.Run("NOTE('checked')");
        await app.Log.WaitFor("checked");
        await Assert.That(app.Log.MessagesStartingWith("gone ").Count).IsEqualTo(1);
    }

    [Test]
    public async Task AllowHalfOpen_PeerFin_OnEndAfterItsData_ThenAnswerDelivered()
    {
        await using TcpApp app = await TcpApp.Start("""
            server = mona:createTCPServer()
            function server:onConnection(client)
              client.allowHalfOpen = true
              local request = ""
              function client:onReception(data) request = request .. data end
              function client:onEnd()
                NOTE("end ", request, " ", tostring(self.connected), " ", tostring(self.allowHalfOpen))
                self:send(string.rep("a", 4 * 1048576))
                self:disconnect()
              end
              function client:onDisconnection() NOTE("gone ", self.error) end
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """);
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));

        await socket.SendAsync(Ascii("request"), SocketFlags.None);
        socket.Shutdown(SocketShutdown.Send);
        byte[] answer = await TcpApp.ReadToEnd(socket);

        await Assert.That(answer.Length).IsEqualTo(4 << 20);
        await Assert.That(await app.Log.WaitFor("end ")).IsEqualTo("end request true true");
        await Assert.That(await app.Log.WaitFor("gone ")).IsEqualTo("gone (null)");
    }

    [Test]
    public async Task AllowHalfOpenFalse_PeerFinEndsConnection_NoOnEnd()
    {
        await using TcpApp app = await TcpApp.Start("""
            server = mona:createTCPServer()
            function server:onConnection(client)
              NOTE("default ", tostring(client.allowHalfOpen))
              function client:onEnd() NOTE("end") end
              function client:onDisconnection() NOTE("gone ", self.error) end
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """);
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));

        socket.Shutdown(SocketShutdown.Send);

        await Assert.That(await app.Log.WaitFor("default ")).IsEqualTo("default false");
        await Assert.That(await app.Log.WaitFor("gone ")).IsEqualTo("gone (null)");
        await Assert.That(app.Log.MessagesStartingWith("end")).IsEmpty();
    }

    [Test]
    public async Task Shutdown_FinAfterQueue_StillReceives_EndsWhenPeerCloses()
    {
        await using TcpApp app = await TcpApp.Start("""
            server = mona:createTCPServer()
            function server:onConnection(client)
              client:send(string.rep("s", 2 * 1048576))
              NOTE("shutdown ", select("#", client:shutdown()))
              NOTE("send after ", client:send("late"))
              NOTE("connected ", tostring(client.connected))
              function client:onReception(data) NOTE("got ", data) end
              function client:onDisconnection() NOTE("gone ", self.error) end
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """);
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));

        byte[] all = await TcpApp.ReadToEnd(socket); // the end of it is the FIN
        await socket.SendAsync(Ascii("more"), SocketFlags.None);
        await Assert.That(await app.Log.WaitFor("got ")).IsEqualTo("got more");
        socket.Shutdown(SocketShutdown.Send);

        await Assert.That(all.Length).IsEqualTo(2 << 20);
        await Assert.That(await app.Log.WaitFor("shutdown ")).IsEqualTo("shutdown 0");
        await Assert.That(await app.Log.WaitFor("send after ")).IsEqualTo("send after shut down for sending");
        await Assert.That(await app.Log.WaitFor("connected ")).IsEqualTo("connected true");
        await Assert.That(await app.Log.WaitFor("gone ")).IsEqualTo("gone (null)");
    }

    [Test]
    public async Task Shutdown_NotConnected_ReturnsMessage()
    {
        string result = await TcpApp.ResultOf("c = mona:createTCPClient()", "return c:shutdown()");

        await Assert.That(result).IsEqualTo("not connected");
    }

    [Test]
    public async Task Disconnect_WhileConnecting_QueueDeliveredThenOneDisconnection()
    {
        using Socket listener = TcpApp.Listen(out int port);
        await using TcpApp app = await TcpApp.Start($$"""
            c = mona:createTCPClient()
            function c:onDisconnection() NOTE("gone ", self.error) end
            c:connect("127.0.0.1", {{port}})
            c:send("queued while connecting")
            c:disconnect()
            NOTE("send after ", c:send("x"))
            """);
        using Socket peer = await listener.AcceptAsync();

        await Assert.That(Encoding.ASCII.GetString(await TcpApp.ReadToEnd(peer))).IsEqualTo("queued while connecting");
        await Assert.That(await app.Log.WaitFor("send after ")).IsEqualTo("send after not connected");
        await Assert.That(await app.Log.WaitFor("gone ")).IsEqualTo("gone (null)");
    }
}
