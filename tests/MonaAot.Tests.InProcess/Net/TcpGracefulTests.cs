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

/// <summary>Nothing queued is lost: sends before connect, half-closes, disconnects (and
/// TcpEndingTests for the rules of docs/api.md, "client:disconnect()").</summary>
public class TcpGracefulTests
{
    [Test]
    public async Task SendBeforeConnect_LargeData_AllEchoedWhileReading()
    {
        await using TcpApp echo = await TcpApp.Start(TcpEchoTests.EchoServer);
        int port = await echo.Log.WaitForNumber("port ");
        await using TcpApp app = await TcpApp.Start($$"""
            local total = 0
            client = mona:createTCPClient()
            function client:onReception(data)
              total = total + #data
              if total == 8 * 1048576 then NOTE("all back") end
            end
            client:connect("127.0.0.1:{{port}}")
            client:send(string.rep("q", 8 * 1048576))
            """);

        await app.Log.WaitFor("all back");
    }

    [Test]
    public async Task PeerHalfClose_QueuedDataStillDelivered()
    {
        await using TcpApp app = await TcpApp.Start("""
            server = mona:createTCPServer()
            function server:onConnection(client)
              function client:onReception(data)
                self:send(string.rep("r", 8 * 1048576))
                self:disconnect()
              end
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """);
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));

        await socket.SendAsync(Encoding.ASCII.GetBytes("request"), SocketFlags.None);
        socket.Shutdown(SocketShutdown.Send);
        byte[] all = await TcpApp.ReadToEnd(socket);

        await Assert.That(all.Length).IsEqualTo(8 << 20);
    }

    [Test]
    public async Task PeerFinWhileQueued_DeliversThenOneNormalDisconnection()
    {
        await using TcpApp app = await TcpApp.Start("""
            server = mona:createTCPServer()
            function server:onConnection(client)
              function client:onReception(data) self:send(string.rep("s", 8 * 1048576)) end
              function client:onDisconnection() NOTE("gone ", self.error) end
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """);
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));

        await socket.SendAsync(Encoding.ASCII.GetBytes("go"), SocketFlags.None);
        socket.Shutdown(SocketShutdown.Send);
        byte[] all = await TcpApp.ReadToEnd(socket);

        await Assert.That(all.Length).IsEqualTo(8 << 20);
        await Assert.That(await app.Log.WaitFor("gone ")).IsEqualTo("gone (null)");
    }

    [Test]
    public async Task Reload_ClosesAcceptedClientsToo()
    {
        await using TcpApp app = await TcpApp.Start(TcpEchoTests.EchoServer);
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));
        await socket.SendAsync(Encoding.ASCII.GetBytes("v1"), SocketFlags.None);
        await TcpApp.ReadExactly(socket, 2);

        app.Www.WriteApp("", "NOTE('version 2')");
        await app.Harness.OnLoop(() => { app.Harness.Rescan(); return 0; });
        await app.Log.WaitFor("version 2");

        await Assert.That((await TcpApp.ReadToEnd(socket)).Length).IsEqualTo(0);
    }

    [Test]
    public async Task Assignment_NaNKey_RaisesInScript()
    {
        await using TcpApp app = await TcpApp.Start("c = mona:createTCPClient()");

        await app.Run("NOTE('result ', select(2, pcall(function() c[0/0] = 1 end)))");

        await Assert.That(await app.Log.WaitFor("result ")).EndsWith("index is NaN");
    }

    [Test]
    public async Task Connect_TimesOutPerAddress_WithError()
    {
        // A peer that never answers, on loopback: a listener whose accept queue is full makes
        // the kernel drop further SYNs, so the handshake never completes.
        using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(0);
        int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        var fillers = new System.Collections.Generic.List<Socket>();
        try
        {
            for (int i = 0; i < 4; i++)
            {
                var filler = new Socket(SocketType.Stream, ProtocolType.Tcp);
                filler.Blocking = false;
                try { filler.Connect(new IPEndPoint(IPAddress.Loopback, port)); } catch (SocketException) { }
                fillers.Add(filler);
            }
            await using TcpApp app = await TcpApp.Start($$"""
                c = mona:createTCPClient()
                function c:onDisconnection() NOTE("ended ", self.error) end
                c:connect("127.0.0.1", {{port}})
                """, ini: "[tcp]\nconnectTimeout=1\n");

            await Assert.That(await app.Log.WaitFor("ended ", TimeSpan.FromSeconds(30))).IsEqualTo($"ended connection timed out (127.0.0.1:{port})");
        }
        finally
        {
            foreach (Socket filler in fillers)
                filler.Dispose();
        }
    }
}
