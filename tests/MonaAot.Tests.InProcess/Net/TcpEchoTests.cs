using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Threading.Tasks;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Net;

/// <summary>The TCPClient/TCPServer data path (docs/api.md) in-process: the real reactor and Lua, a
/// real client on loopback.</summary>
public class TcpEchoTests
{
    public const string EchoServer = """
        server = mona:createTCPServer()
        function server:onConnection(client)
          function client:onReception(data) self:send(data) end
        end
        assert(server:start("127.0.0.1", 0))
        NOTE("port ", server.port)
        """;

    [Test]
    public async Task Echo_RandomFragmentation_EveryByteBackInOrder()
    {
        await using TcpApp app = await TcpApp.Start(EchoServer);
        int port = await app.Log.WaitForNumber("port ");
        using (Socket socket = await TcpApp.Connect(port))
        {
            var random = new Random(1234);
            var payload = new byte[256 * 1024];
            random.NextBytes(payload);

            Task<byte[]> reading = TcpApp.ReadExactly(socket, payload.Length);
            for (int sent = 0; sent < payload.Length;)
            {
                int size = Math.Min(random.Next(1, 3000), payload.Length - sent);
                await socket.SendAsync(payload.AsMemory(sent, size), SocketFlags.None);
                sent += size;
            }

            await Assert.That((await reading).AsSpan().SequenceEqual(payload)).IsTrue();
        }
        await Assert.That(await app.StopAndCountOpenSockets()).IsEqualTo(0);
    }

    [Test]
    public async Task Echo_16MiBPayload_VerifiedByteForByte()
    {
        await using TcpApp app = await TcpApp.Start(EchoServer);
        int port = await app.Log.WaitForNumber("port ");
        using Socket socket = await TcpApp.Connect(port);
        var payload = new byte[16 << 20];
        new Random(99).NextBytes(payload);

        Task<byte[]> reading = TcpApp.ReadExactly(socket, payload.Length);
        await socket.SendAsync(payload, SocketFlags.None);

        byte[] echoed = await reading;
        await Assert.That(echoed.AsSpan().SequenceEqual(payload)).IsTrue();
    }

    [Test]
    public async Task Echo_1000ConcurrentConnections_AllServed()
    {
        await using TcpApp app = await TcpApp.Start(EchoServer);
        {
            int port = await app.Log.WaitForNumber("port ");
            var sockets = new List<Socket>();
            try
            {
                for (int i = 0; i < 1000; i++)
                    sockets.Add(await TcpApp.Connect(port));
                var checks = new List<Task<bool>>();
                for (int i = 0; i < sockets.Count; i++)
                {
                    Socket socket = sockets[i];
                    byte[] message = BitConverter.GetBytes(i * 7919L);
                    checks.Add(Task.Run(async () =>
                    {
                        await socket.SendAsync(message, SocketFlags.None);
                        return (await TcpApp.ReadExactly(socket, message.Length)).AsSpan().SequenceEqual(message);
                    }));
                }

                bool[] results = await Task.WhenAll(checks);
                await Assert.That(Array.TrueForAll(results, ok => ok)).IsTrue();
                long connections = await app.Harness.OnLoop(() => app.Harness.Net.Stats.Connections);
                await Assert.That(connections).IsEqualTo(1000L);
            }
            finally
            {
                foreach (Socket socket in sockets)
                    socket.Dispose();
            }
        }
        await Assert.That(await app.StopAndCountOpenSockets()).IsEqualTo(0);
    }

    [Test]
    public async Task Echo_IPv6Loopback_Works()
    {
        await using TcpApp app = await TcpApp.Start("""
            server = mona:createTCPServer()
            function server:onConnection(client)
              function client:onReception(data) self:send(client.peerAddress) end
            end
            assert(server:start("::1", 0))
            NOTE("port ", server.port)
            """);
        int port = await app.Log.WaitForNumber("port ");
        using var socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.IPv6Loopback, port));
        var local = (IPEndPoint)socket.LocalEndPoint!;

        await socket.SendAsync("x"u8.ToArray(), SocketFlags.None);
        string expected = $"[::1]:{local.Port}";

        await Assert.That(System.Text.Encoding.ASCII.GetString(await TcpApp.ReadExactly(socket, expected.Length))).IsEqualTo(expected);
    }

    [Test]
    public async Task DualStack_IPv4PeerShowsAsPlainIPv4()
    {
        await using TcpApp app = await TcpApp.Start("""
            server = mona:createTCPServer()
            function server:onConnection(client)
              function client:onReception(data) self:send(client.peerAddress .. " " .. client.address) end
            end
            assert(server:start(0))
            NOTE("port ", server.port)
            """);
        int port = await app.Log.WaitForNumber("port ");
        using Socket socket = await TcpApp.Connect(port);
        var local = (IPEndPoint)socket.LocalEndPoint!;
        string expected = $"127.0.0.1:{local.Port} 127.0.0.1:{port}";

        await socket.SendAsync("x"u8.ToArray(), SocketFlags.None);

        await Assert.That(System.Text.Encoding.ASCII.GetString(await TcpApp.ReadExactly(socket, expected.Length))).IsEqualTo(expected);
    }
}
