using System;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Tasks;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;
using TUnit.Core.Enums;

namespace MonaAot.Tests.Net;

/// <summary>
/// Every descriptor MonaAot opens for a scenario is closed afterwards: the sockets, epoll and
/// eventfd descriptors in /proc/self/fd are back to their count before it. Files are not
/// counted: the runtime maps assemblies as a test first needs them. These tests run alone
/// ([NotInParallel]), since another test's sockets would blur the count.
/// </summary>
// Linux only: it counts descriptors in /proc/self/fd.
[RunOn(OS.Linux)]
[NotInParallel]
public class DescriptorLeakTests
{
    private static int OpenDescriptors
    {
        get
        {
            int count = 0;
            foreach (string fd in Directory.GetFiles("/proc/self/fd"))
            {
                string? target = new FileInfo(fd).LinkTarget;
                if (target is not null && (target.StartsWith("socket:", StringComparison.Ordinal) || target.StartsWith("anon_inode:", StringComparison.Ordinal)))
                    count++;
            }
            return count;
        }
    }

    /// <summary>Runs <paramref name="scenario"/> against a fresh in-process host and returns how
    /// many more descriptors the process has afterwards than before.</summary>
    private static async Task<int> Leaked(string script, Func<TcpApp, Task> scenario, string ini = "")
    {
        await WarmUpTestSockets();
        int before = OpenDescriptors;
        await using (TcpApp app = await TcpApp.Start(script, ini))
        {
            await scenario(app);
            await Assert.That(await app.StopAndCountOpenSockets()).IsEqualTo(0);
        }
        return OpenDescriptors - before;
    }

    /// <summary>The test's own sockets (System.Net) open their engine's descriptors once per
    /// process, on first use: make that happen before counting.</summary>
    private static async Task WarmUpTestSockets()
    {
        using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        using Socket client = await TcpApp.Connect(((IPEndPoint)listener.LocalEndPoint!).Port);
        using Socket accepted = await listener.AcceptAsync();
    }

    [Test]
    public async Task EchoAndPeerClose_LeaveNoDescriptor()
    {
        int leaked = await Leaked(TcpEchoTests.EchoServer, async app =>
        {
            int port = await app.Log.WaitForNumber("port ");
            for (int i = 0; i < 20; i++)
            {
                using Socket socket = await TcpApp.Connect(port);
                await socket.SendAsync(Encoding.ASCII.GetBytes("ping"), SocketFlags.None);
                await TcpApp.ReadExactly(socket, 4);
            }
        });

        await Assert.That(leaked).IsEqualTo(0);
    }

    [Test]
    public async Task RefusedConnectAndReset_LeaveNoDescriptor()
    {
        using Socket probe = TcpApp.RefusingPort(out int closedPort);
        int leaked = await Leaked(TcpEchoTests.EchoServer + $$"""

            c = mona:createTCPClient()
            function c:onDisconnection() NOTE("refused ", self.error) end
            c:connect("127.0.0.1", {{closedPort}})
            """, async app =>
        {
            await app.Log.WaitFor("refused ");
            Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));
            await socket.SendAsync(Encoding.ASCII.GetBytes("x"), SocketFlags.None);
            await TcpApp.ReadExactly(socket, 1);
            socket.LingerState = new LingerOption(true, 0);
            socket.Dispose();
        });

        await Assert.That(leaked).IsEqualTo(0);
    }

    [Test]
    public async Task DisconnectWithQueuedData_LeavesNoDescriptor()
    {
        int leaked = await Leaked("""
            server = mona:createTCPServer()
            function server:onConnection(client)
              client:send(string.rep("d", 4 * 1048576))
              client:disconnect()
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """, async app =>
        {
            using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));
            await Assert.That((await TcpApp.ReadToEnd(socket)).Length).IsEqualTo(4 << 20);
        });

        await Assert.That(leaked).IsEqualTo(0);
    }

    [Test]
    public async Task RestartReloadAndLimit_LeaveNoDescriptor()
    {
        int leaked = await Leaked(TcpEchoTests.EchoServer, async app =>
        {
            await app.Log.WaitForNumber("port ");
            await app.Run("server:start('127.0.0.1:0') NOTE('moved ', server.port)");
            using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("moved "));
            app.Www.WriteApp("", """
                server = mona:createTCPServer()
                function server:onConnection(client)
                  function client:onDisconnection() NOTE("limited ", self.error) end
                  function client:onReception(data) return #data end
                end
                assert(server:start("127.0.0.1", 0))
                NOTE("reloaded ", server.port)
                """);
            await app.Harness.OnLoop(() => { app.Harness.Rescan(); return 0; });
            using Socket limited = await TcpApp.Connect(await app.Log.WaitForNumber("reloaded "));
            await limited.SendAsync(new byte[8192], SocketFlags.None);
            await app.Log.WaitFor("limited receive limit exceeded");
        }, ini: "[tcp]\nreceiveLimit=4096\n");

        await Assert.That(leaked).IsEqualTo(0);
    }

    [Test]
    public async Task UdpBindSendCloseRebind_LeaveNoDescriptor()
    {
        int leaked = await Leaked(UdpTests.EchoSocket, async app =>
        {
            int port = await app.Log.WaitForNumber("port ");
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            client.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            await client.SendToAsync(Encoding.ASCII.GetBytes("x"), new IPEndPoint(IPAddress.Loopback, port));
            await client.ReceiveAsync(new byte[16], SocketFlags.None);
            await app.Run($"udp:close() udp:bind('127.0.0.1:{port}') local e = mona:createUDPSocket() e:send('y', '127.0.0.1:{port}') e:close() NOTE('cycled')");
            await app.Log.WaitFor("cycled");
        });

        await Assert.That(leaked).IsEqualTo(0);
    }
}
