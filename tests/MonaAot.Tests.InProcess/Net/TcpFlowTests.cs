using System;
using System.Net.Sockets;
using System.Text;
using System.Threading.Tasks;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Net;

/// <summary>Flow control (docs/api.md, "client:send", "onFlush()", "client:pause()"): queueing,
/// onFlush, pause/resume; in-process, real sockets.</summary>
public class TcpFlowTests
{
    /// <summary>A server whose accepted client is paused in clientHandler and counts what it
    /// gets, checking that byte i is (i % 251), so that a loss or a reordering shows.</summary>
    private const string PausedCountingServer = """
        total, bad = 0, 0
        server = mona:createTCPServer()
        function server:onConnection(client)
          client:pause()
          c = client
          function client:onReception(data)
            for i = 1, #data, 997 do
              if data:byte(i) ~= (total + i - 1) % 251 then bad = bad + 1 end
            end
            total = total + #data
          end
          function client:onDisconnection() NOTE("gone ", total, " ", bad, " ", self.error) end
        end
        assert(server:start("127.0.0.1", 0))
        NOTE("port ", server.port)
        """;

    private static byte[] Pattern(long offset, int length)
    {
        var bytes = new byte[length];
        for (int i = 0; i < length; i++)
            bytes[i] = (byte)((offset + i) % 251);
        return bytes;
    }

    /// <summary>Sends the pattern without blocking until the kernel takes no more (the peer
    /// does not read); returns how many bytes went. Bounded: fails past 256 MiB.</summary>
    private static async Task<long> SendUntilWindowCloses(Socket socket)
    {
        socket.Blocking = false;
        long sent = 0;
        while (sent < 256L << 20)
        {
            int n = socket.Send(Pattern(sent, 65536), 0, 65536, SocketFlags.None, out SocketError error);
            if (error == SocketError.WouldBlock)
            {
                // Still closed a moment later: not a reader that is merely slower than us.
                if (!socket.Poll(300_000, SelectMode.SelectWrite))
                    break;
                continue;
            }
            if (error != SocketError.Success)
                throw new SocketException((int)error);
            sent += n;
        }
        socket.Blocking = true;
        await Assert.That(sent).IsLessThan(256L << 20).Because("a paused reader must close the window");
        return sent;
    }

    [Test]
    public async Task Pause_InClientHandler_NothingReadUntilResume_ThenAllInOrder()
    {
        await using TcpApp app = await TcpApp.Start(PausedCountingServer);
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));

        long sent = await SendUntilWindowCloses(socket);
        await app.Run("NOTE('paused ', tostring(c.paused), ' ', total)");
        await Assert.That(await app.Log.WaitFor("paused ")).IsEqualTo("paused true 0");

        await app.Run("c:resume() NOTE('resumed ', tostring(c.paused))");
        await app.Log.WaitFor("resumed false");
        await socket.SendAsync(Pattern(sent, 1000), SocketFlags.None);
        socket.Shutdown(SocketShutdown.Send);

        await Assert.That(await app.Log.WaitFor("gone ")).IsEqualTo($"gone {sent + 1000} 0 (null)");
    }

    [Test]
    public async Task Pause_PeerFinBehindData_ReportedOnlyAfterResume()
    {
        await using TcpApp app = await TcpApp.Start(PausedCountingServer);
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));

        long sent = await SendUntilWindowCloses(socket);
        socket.Shutdown(SocketShutdown.Send);
        await app.Run("NOTE('before ', tostring(c.connected), ' ', total)");
        await Assert.That(await app.Log.WaitFor("before ")).IsEqualTo("before true 0");

        await app.Run("c:resume()");

        await Assert.That(await app.Log.WaitFor("gone ")).IsEqualTo($"gone {sent} 0 (null)");
    }

    [Test]
    public async Task Pause_BeforeConnect_ConnectionStartsPaused()
    {
        using Socket listener = TcpApp.Listen(out int port);
        await using TcpApp app = await TcpApp.Start($$"""
            total = 0
            c = mona:createTCPClient()
            c:pause()
            function c:onReception(data) total = total + #data end
            function c:onDisconnection() NOTE("gone ", total, " ", self.error) end
            c:connect("127.0.0.1", {{port}})
            """);
        using Socket peer = await listener.AcceptAsync();

        long sent = await SendUntilWindowCloses(peer);
        await app.Run("NOTE('before ', total)");
        await Assert.That(await app.Log.WaitFor("before ")).IsEqualTo("before 0");
        await app.Run("c:resume()");
        peer.Shutdown(SocketShutdown.Send);

        await Assert.That(await app.Log.WaitFor("gone ")).IsEqualTo($"gone {sent} (null)");
    }

    /// <summary>The drained figure is read in onFlush; by a chunk run once the peer has read
    /// everything only on epoll: on IOCP a posted send counts until its completion is taken from
    /// the port, which can come after the peer has the bytes (seen under Wine: 274432).</summary>
    [Test]
    public async Task Queueing_CountsWhatTheKernelDidNotTake()
    {
        await using TcpApp app = await TcpApp.Start("""
            server = mona:createTCPServer()
            function server:onConnection(client)
              NOTE("before ", client.queueing)
              client:send(string.rep("q", 32 * 1048576)) -- more than the kernel buffers hold
              NOTE("after ", client.queueing)
              function client:onFlush() NOTE("drained ", self.queueing) end
              c = client
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """);
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));

        await Assert.That(await app.Log.WaitFor("before ")).IsEqualTo("before 0");
        long queued = long.Parse((await app.Log.WaitFor("after "))["after ".Length..]);
        await Assert.That(queued).IsGreaterThan(0L).And.IsLessThanOrEqualTo(32L << 20);
        await TcpApp.ReadExactly(socket, 32 << 20);
        await Assert.That(await app.Log.WaitFor("drained ")).IsEqualTo("drained 0");
        if (!OperatingSystem.IsWindows()) // epoll: the bytes leave the queue as the kernel takes them
        {
            await app.Run("NOTE('read by the peer ', c.queueing)");
            await Assert.That(await app.Log.WaitFor("read by the peer ")).IsEqualTo("read by the peer 0");
        }
    }

    [Test]
    public async Task OnFlush_FiresOnceAfterDrain_NeverInsideSend()
    {
        await using TcpApp app = await TcpApp.Start("""
            server = mona:createTCPServer()
            function server:onConnection(client)
              function client:onFlush()
                NOTE("flushed ", self.queueing, " ", tostring(inside))
                self:disconnect()
              end
              function client:onDisconnection() NOTE("gone ", self.error) end
              inside = true
              client:send(string.rep("f", 32 * 1048576)) -- more than the kernel buffers hold
              client:send("end")
              inside = false
              NOTE("queued ", client.queueing > 0)
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """);
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));
        await Assert.That(await app.Log.WaitFor("queued ")).IsEqualTo("queued (true)");

        byte[] all = await TcpApp.ReadToEnd(socket);

        await Assert.That(all.Length).IsEqualTo((32 << 20) + 3);
        await Assert.That(await app.Log.WaitFor("gone ")).IsEqualTo("gone (null)");
        await Assert.That(app.Log.MessagesStartingWith("flushed ")).IsEquivalentTo(new[] { "flushed 0 false" });
    }

    [Test]
    public async Task OnFlush_DataSentWhileConnecting_FiresAfterConnect()
    {
        using Socket listener = TcpApp.Listen(out int port);
        await using TcpApp app = await TcpApp.Start($$"""
            c = mona:createTCPClient()
            function c:onFlush() NOTE("flushed ", self.queueing, " ", tostring(self.connected)) end
            c:connect("127.0.0.1", {{port}})
            c:send("hello")
            NOTE("queued ", c.queueing)
            """);
        using Socket peer = await listener.AcceptAsync();

        await Assert.That(await app.Log.WaitFor("queued ")).IsEqualTo("queued 5");
        await Assert.That(Encoding.ASCII.GetString(await TcpApp.ReadExactly(peer, 5))).IsEqualTo("hello");
        await Assert.That(await app.Log.WaitFor("flushed ")).IsEqualTo("flushed 0 true");
    }

    [Test]
    public async Task OnFlush_NotForAConnectionThatEndedFirst()
    {
        await using TcpApp app = await TcpApp.Start("""
            server = mona:createTCPServer()
            function server:onConnection(client)
              client:send(string.rep("n", 16 * 1048576))
              NOTE("queued ", client.queueing > 0)
              function client:onFlush() NOTE("flushed") end
              function client:onDisconnection() NOTE("gone ", self.error ~= nil) end
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """);
        Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));
        await Assert.That(await app.Log.WaitFor("queued ")).IsEqualTo("queued (true)");

        socket.LingerState = new System.Net.Sockets.LingerOption(true, 0); // a reset, unread data dropped
        socket.Dispose();

        await Assert.That(await app.Log.WaitFor("gone ")).IsEqualTo("gone (true)");
        await app.Run("NOTE('checked')");
        await app.Log.WaitFor("checked");
        await Assert.That(app.Log.MessagesStartingWith("flushed")).IsEmpty();
    }

    [Test]
    public async Task Pause_PeerResets_ConnectionEndsWithTheReset()
    {
        // IOCP reports a reset only to a posted operation, and a paused connection posts no
        // read (one posted while paused would complete at once with the data, again and again):
        // on Windows the reset shows at resume() or at the next send, as with libuv.
        Skip.When(OperatingSystem.IsWindows(), "IOCP tells a reset only to a posted read or send");
        await using TcpApp app = await TcpApp.Start(PausedCountingServer);
        Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));
        await socket.SendAsync(Pattern(0, 1000), SocketFlags.None);
        await app.Run("NOTE('paused ', tostring(c.paused))");
        await app.Log.WaitFor("paused true");

        socket.LingerState = new LingerOption(true, 0);
        socket.Dispose();

        await Assert.That(await app.Log.WaitFor("gone ")).StartsWith("gone 0 0 connection reset");
    }

    [Test]
    public async Task Pause_IdleTimeout_DoesNotEndAPausedConnection()
    {
        await using TcpApp app = await TcpApp.Start(PausedCountingServer, "[tcp]\nidleTimeout=1\n");
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));
        await app.Run("NOTE('paused ', tostring(c.paused))");
        await app.Log.WaitFor("paused true");

        // Past the idle timeout's 1 to 1.25 s: still there.
        await app.Run("mona:setTimer(function() NOTE('later ', tostring(c.connected)) end, 2000)");

        await Assert.That(await app.Log.WaitFor("later ")).IsEqualTo("later true");
        await Assert.That(app.Log.MessagesStartingWith("gone ")).IsEmpty();
    }

    [Test]
    public async Task Queueing_UdpSocket_ZeroWhenNothingWaits()
    {
        await using TcpApp app = await TcpApp.Start("""
            u = mona:createUDPSocket()
            NOTE("fresh ", u.queueing)
            assert(not u:bind("127.0.0.1:0"))
            function u:onReception(data, address)
              self:send(data, address)
              NOTE("inside ", self.queueing == 0 or self.queueing == #data)
            end
            NOTE("port ", tonumber(u.address:match(":(%d+)$")))
            """);
        int port = await app.Log.WaitForNumber("port ");
        using var peer = new Socket(SocketType.Dgram, ProtocolType.Udp);
        peer.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));

        await peer.SendToAsync(Encoding.ASCII.GetBytes("ping"), new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port));
        var buffer = new byte[16];
        int n = await peer.ReceiveAsync(buffer, SocketFlags.None);
        await app.Run("NOTE('after ', u.queueing)");

        await Assert.That(n).IsEqualTo(4);
        await Assert.That(await app.Log.WaitFor("fresh ")).IsEqualTo("fresh 0");
        await Assert.That(await app.Log.WaitFor("inside ")).IsEqualTo("inside (true)");
        await Assert.That(await app.Log.WaitFor("after ")).IsEqualTo("after 0");
    }
}
