using System;
using System.IO;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Threading;
using System.Threading.Tasks;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;
using TUnit.Core.Enums;

namespace MonaAot.Tests.EndToEnd;

/// <summary>
/// TLS connection churn allocates no managed memory per connection (docs/architecture.md,
/// "Connection pooling"): what the whole process allocates over 5,000 accepted TLS connections
/// (handshake, echo, close) is what it allocates over 1,000, within a small constant (the timers,
/// the www scanner and the once-a-second look at the certificate files, which do not depend on
/// traffic). Fewer connections than the plain test: a handshake costs the server about a
/// millisecond of CPU. Every end in turn: the client's close_notify then FIN, its FIN alone, its
/// reset (SO_LINGER 0), and the server's disconnect() after the echo.
/// </summary>
// Linux only: it runs the published Linux binary (out/monaaot) as a child process.
[RunOn(OS.Linux)]
[NotInParallel("TlsProcessTests")]
public class TlsChurnAllocationTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    /// <summary>A TLS echo server ("D..." is echoed, then the server disconnects) and a plain
    /// control server answering "stats?" with mona:stats().managedAllocatedBytes. No
    /// collectgarbage(): the collector must keep pace with the closes on its own.</summary>
    private static string App(TestCertificates certificates) => $$"""
        server = mona:createTCPServer({ certificate = [[{{certificates.ServerCert}}]], key = [[{{certificates.ServerKey}}]] })
        function server:onConnection(client)
          function client:onReception(data)
            if data:byte(1) == 68 then
              self:send(data)
              self:disconnect()
            else
              self:send(data)
            end
          end
        end
        assert(server:start("127.0.0.1", 0))
        control = mona:createTCPServer()
        function control:onConnection(client)
          function client:onReception(data)
            self:send(tostring(mona:stats().managedAllocatedBytes) .. "\n")
          end
        end
        assert(control:start("127.0.0.1", 0))
        NOTE("ports ", server.port, " ", control.port)
        ticks = 0
        function onManage() ticks = ticks + 1 if ticks <= 2 then NOTE('tick ', ticks) end end
        """;

    /// <summary>Clients at once: enough to keep the server's loop busy on a small machine.</summary>
    private const int Parallel = 4;

    [Test]
    [Timeout(300_000)]
    public async Task TlsChurn_AllocatesNothingPerConnection(CancellationToken token)
    {
        using TestCertificates certificates = await TestCertificates.Make();
        using var www = new TempWww();
        www.WriteApp("", App(certificates));
        await using MonaProcess mona = MonaProcess.Start(www.Www);
        string line = await mona.WaitForLineText("ports ", Wait);
        string[] words = line[(line.IndexOf("ports ", StringComparison.Ordinal) + 6)..].Trim().Split(' ');
        int port = int.Parse(words[0]), controlPort = int.Parse(words[1]);
        using Socket control = await TcpApp.Connect(controlPort);
        control.ReceiveTimeout = (int)Wait.TotalMilliseconds;
        await mona.WaitForLine("tick 2", Wait);

        int warm = Runner.Count(500, 50), small = Runner.Count(1_000, 50), large = Runner.Count(5_000, 50);
        (long growthSmall, long growthLarge) = await Task.Run(() =>
        {
            Churn(port, warm, token); // first use of every path, and the pools' size
            long start = ChurnLoad.AskAllocated(control);
            Churn(port, small, token);
            long afterSmall = ChurnLoad.AskAllocated(control);
            Churn(port, large, token);
            long afterLarge = ChurnLoad.AskAllocated(control);
            return (afterSmall - start, afterLarge - afterSmall);
        }, token);

        // 4,000 connections more would show as hundreds of kilobytes at even a hundred bytes
        // each; what is left is the process's periodic work over the run's seconds.
        string because = $"{small} TLS connections: +{growthSmall} bytes, {large} TLS connections: +{growthLarge} bytes";
        Console.WriteLine(because);
        await Assert.That(growthLarge).IsLessThan(16 * 1024).Because(because);
        await Assert.That(growthSmall).IsLessThan(16 * 1024).Because(because);
    }

    /// <summary><paramref name="count"/> TLS connections, <see cref="Parallel"/> at a time: each
    /// connects, shakes hands, sends 64 bytes, reads them back and ends as its number says.</summary>
    private static void Churn(int port, int count, CancellationToken token)
    {
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            RemoteCertificateValidationCallback = (_, _, _, _) => true, // the certificate is not what is measured
        };
        var endpoint = new IPEndPoint(IPAddress.Loopback, port);
        ChurnLoad.Run(Parallel, count, i =>
        {
            int ending = i % 4; // 0: close_notify and FIN, 1: FIN alone, 2: the server's disconnect(), 3: a reset
            var message = new byte[64];
            message[0] = ending == 2 ? (byte)'D' : (byte)'e';
            var reply = new byte[64];
            using Socket socket = TcpApp.ChurnClient();
            socket.ReceiveTimeout = socket.SendTimeout = (int)Wait.TotalMilliseconds;
            socket.Connect(endpoint);
            using var stream = new NetworkStream(socket, ownsSocket: false);
            using var tls = new SslStream(stream, leaveInnerStreamOpen: true);
            tls.AuthenticateAsClient(options);
            tls.Write(message);
            int read = 0;
            while (read < reply.Length)
            {
                int n = tls.Read(reply, read, reply.Length - read);
                if (n == 0)
                    throw new IOException("the server closed before echoing");
                read += n;
            }
            if (ending == 0)
                tls.ShutdownAsync().GetAwaiter().GetResult();
            else if (ending == 2 && tls.Read(reply, 0, reply.Length) != 0)
                throw new IOException("more than the echo before the server's close_notify");
            else if (ending == 3)
                socket.LingerState = new LingerOption(true, 0);
        }, token);
    }
}
