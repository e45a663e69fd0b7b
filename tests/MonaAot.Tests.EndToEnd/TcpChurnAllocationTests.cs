using System;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;
using TUnit.Core.Enums;

namespace MonaAot.Tests.EndToEnd;

/// <summary>
/// Connection churn allocates no managed memory per connection (docs/architecture.md,
/// "Connection pooling"): what the whole process allocates over 100,000 accepted, echoed and
/// closed connections is what it allocates over 10,000, within a small constant (the timers and
/// the www scanner's periodic work, which do not depend on traffic). Every end: the peer's FIN,
/// a reset (SO_LINGER 0), whose error the script may read, and the script's disconnect(). And
/// connections behind a balancer: a server with proxyProtocol trusting 127.0.0.0/8, every
/// connection starting with a PROXY header (v1 text, v2 binary).
/// </summary>
// Linux only: it runs the published Linux binary (out/monaaot) as a child process.
[RunOn(OS.Linux)]
public class TcpChurnAllocationTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    /// <summary>Echo with the three handlers, plus "stats?" on a control connection answered
    /// with mona:stats().managedAllocatedBytes. No collectgarbage(): a client object is reused
    /// once Lua collects its userdata, so this also checks that the collector keeps pace with
    /// the closes on its own (docs/architecture.md, "Memory upkeep").</summary>
    private const string ChurnApp = """
        gone = 0
        server = mona:createTCPServer()
        function server:onConnection(client)
          function client:onReception(data)
            if data == "stats?" then
              self:send(tostring(mona:stats().managedAllocatedBytes) .. "\n")
            elseif data:byte(1) == 68 then -- "D": echoed, then the server disconnects
              self:send(data)
              self:disconnect()
            else
              self:send(data)
            end
          end
          function client:onDisconnection()
            gone = gone + 1
          end
        end
        assert(server:start("127.0.0.1", 0))
        NOTE("port ", server.port)
        ticks = 0
        function onManage() ticks = ticks + 1 if ticks <= 2 then NOTE('tick ', ticks) end end
        """;

    /// <summary>Clients at once: enough to keep the server's loop busy, few enough for the
    /// machine's cores.</summary>
    private const int Parallel = 8;

    /// <summary>How a connection ends: the client's FIN, the client's reset, or the server's
    /// disconnect() after the echo (a drain, then the client's FIN).</summary>
    public enum Ending { Fin, Reset, ServerDisconnect }

    [Test]
    [Timeout(300_000)]
    public async Task Churn_FinClose_AllocatesNothingPerConnection(CancellationToken token) =>
        await Measure(Ending.Fin, token);

    [Test]
    [Timeout(300_000)]
    public async Task Churn_ResetClose_AllocatesNothingPerConnection(CancellationToken token) =>
        await Measure(Ending.Reset, token);

    [Test]
    [Timeout(300_000)]
    public async Task Churn_ServerDisconnect_AllocatesNothingPerConnection(CancellationToken token) =>
        await Measure(Ending.ServerDisconnect, token);

    /// <summary>What a balancer sends first: the original client is 192.0.2.1:40000.</summary>
    private static readonly byte[] ProxyV1 = "PROXY TCP4 192.0.2.1 127.0.0.1 40000 7000\r\n"u8.ToArray();

    private static readonly byte[] ProxyV2 = ProxyHeaders.V2Inet(IPAddress.Parse("192.0.2.1"), 40000, IPAddress.Loopback, 7000);

    [Test]
    [Timeout(300_000)]
    public async Task Churn_ProxyV1_AllocatesNothingPerConnection(CancellationToken token) =>
        await Measure(Ending.Fin, token, ProxyV1);

    [Test]
    [Timeout(300_000)]
    public async Task Churn_ProxyV2_AllocatesNothingPerConnection(CancellationToken token) =>
        await Measure(Ending.Fin, token, ProxyV2);

    /// <summary><paramref name="proxyHeader"/>: the server takes PROXY headers from 127.0.0.0/8,
    /// and every connection (the control one too) starts with this one.</summary>
    private static async Task Measure(Ending ending, CancellationToken token, byte[]? proxyHeader = null)
    {
        using var www = new TempWww();
        www.WriteApp("", proxyHeader is null ? ChurnApp
            : ChurnApp.Replace("assert(server:start(", "server.proxyProtocol = {\"127.0.0.0/8\"}\nassert(server:start(", StringComparison.Ordinal));
        await using MonaProcess mona = MonaProcess.Start(www.Www);
        int port = await TcpProcessTests.PortOf(mona);
        using Socket control = await TcpApp.Connect(port);
        control.ReceiveTimeout = (int)Wait.TotalMilliseconds;
        if (proxyHeader is not null)
            control.Send(proxyHeader);
        await mona.WaitForLine("tick 2", Wait);

        int warm = Runner.Count(5_000, 50), small = Runner.Count(10_000, 50), large = Runner.Count(100_000, 50);
        (long growth10k, long growth100k) = await Task.Run(() =>
        {
            Churn(port, warm, ending, proxyHeader, token); // first use of every path, and the pools' size
            long start = ChurnLoad.AskAllocated(control);
            Churn(port, small, ending, proxyHeader, token);
            long after10k = ChurnLoad.AskAllocated(control);
            Churn(port, large, ending, proxyHeader, token);
            long after100k = ChurnLoad.AskAllocated(control);
            return (after10k - start, after100k - after10k);
        }, token);

        // Not proportional to the connections: 100,000 would show as megabytes at even a few
        // bytes each; what is left is the process's periodic work over the run's seconds.
        string because = $"{small} connections: +{growth10k} bytes, {large} connections: +{growth100k} bytes";
        Console.WriteLine($"{(proxyHeader is null ? "" : proxyHeader[0] == 'P' ? "PROXY v1, " : "PROXY v2, ")}{ending}: {because}");
        await Assert.That(growth100k).IsLessThan(16 * 1024).Because(because);
        await Assert.That(growth10k).IsLessThan(16 * 1024).Because(because);
    }

    /// <summary><paramref name="count"/> connections, <see cref="Parallel"/> at a time: each
    /// connects, sends 64 bytes (behind <paramref name="proxyHeader"/> when given, in the same
    /// send), reads them back and closes as <paramref name="ending"/> says.</summary>
    private static void Churn(int port, int count, Ending ending, byte[]? proxyHeader, CancellationToken token)
    {
        int headerLength = proxyHeader?.Length ?? 0;
        var endpoint = new IPEndPoint(IPAddress.Loopback, port);
        ChurnLoad.Run(Parallel, count, _ =>
        {
            var message = new byte[headerLength + 64];
            proxyHeader?.CopyTo(message, 0);
            if (ending == Ending.ServerDisconnect)
                message[headerLength] = (byte)'D';
            var reply = new byte[64];
            using Socket socket = TcpApp.ChurnClient();
            socket.ReceiveTimeout = socket.SendTimeout = (int)Wait.TotalMilliseconds;
            socket.Connect(endpoint);
            socket.Send(message);
            int read = 0;
            while (read < reply.Length)
            {
                int n = socket.Receive(reply, read, reply.Length - read, SocketFlags.None);
                if (n == 0)
                    throw new IOException("the server closed before echoing");
                read += n;
            }
            if (ending == Ending.Reset)
                socket.LingerState = new LingerOption(true, 0);
            else if (ending == Ending.ServerDisconnect && socket.Receive(reply) != 0)
                throw new IOException("more than the echo before the server's FIN");
        }, token);
    }
}
