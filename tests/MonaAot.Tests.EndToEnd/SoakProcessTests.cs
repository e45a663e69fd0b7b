using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;
using TUnit.Core.Enums;

namespace MonaAot.Tests.EndToEnd;

/// <summary>
/// A bounded soak of the published binary: TCP echo clients with random message sizes and
/// fragmentation (some hanging up and reconnecting), UDP ping-pong, and a child application
/// reloaded again and again while it holds a UDP port, all at once, every byte verified. At the
/// end the process must hold as many descriptors as before the traffic, and its RSS, managed
/// heap and Lua heap must not have kept growing. About 100 s by default;
/// MONAAOT_SOAK_SECONDS runs it longer.
/// </summary>
// Linux only: it runs the published Linux binary (out/monaaot) as a child process.
[RunOn(OS.Linux)]
[NotInParallel]
public class SoakProcessTests
{
    private static int Seconds =>
        int.TryParse(Environment.GetEnvironmentVariable("MONAAOT_SOAK_SECONDS"), out int s) && s > 0 ? s : 100;

    private const string Root = """
        tcp = mona:createTCPServer()
        function tcp:onConnection(client)
          function client:onReception(data)
            if data == "stats?" then
              local s = mona:stats()
              self:send(string.format("%d %d %d %d\n", s.connections, s.managedHeapBytes, s.luaMemoryBytes, s.managedAllocatedBytes))
              return
            end
            self:send(data)
          end
        end
        assert(tcp:start("127.0.0.1", 0))
        udp = mona:createUDPSocket()
        function udp:onReception(data, address) self:send(data, address) end
        assert(udp:bind("127.0.0.1:0") == nil)
        NOTE("tcp ", tcp.port)
        NOTE("udp ", udp.address:match(":(%d+)$"))
        """;

    private static string Child(int version, int port) => $$"""
        local u = mona:createUDPSocket()
        local err = u:bind("127.0.0.1:{{port}}")
        NOTE("child v{{version}} ", err or "up")
        """;

    [Test]
    [Timeout(600_000)]
    public async Task MixedTrafficAndReloads_EveryByteVerified_NothingLeaks(CancellationToken cancel)
    {
        using var www = new TempWww();
        int childPort = TcpApp.FreePort(SocketType.Dgram);
        www.WriteApp("", Root);
        www.WriteApp("/child", Child(0, childPort));
        await using MonaProcess mona = MonaProcess.Start(www.Www);
        int tcpPort = int.Parse((await mona.WaitForLineText("tcp ", TcpProcessTests.Wait)).Split(' ').Last());
        int udpPort = int.Parse((await mona.WaitForLineText("udp ", TcpProcessTests.Wait)).Split(' ').Last());
        await mona.WaitForLine("child v0 up", TcpProcessTests.Wait);
        using Socket statsSocket = await TcpApp.Connect(tcpPort);
        Stats first = await AskStats(statsSocket);
        int descriptorsBefore = Descriptors(mona.Id);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        stop.CancelAfter(TimeSpan.FromSeconds(Seconds));
        var samples = new List<(long Rss, Stats Stats)>();
        Task sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                samples.Add((RssKb(mona.Id), await AskStats(statsSocket)));
                await Task.WhenAny(Task.Delay(2000, stop.Token)).ConfigureAwait(false);
            }
        });
        Task<long>[] tcp = Enumerable.Range(0, 16).Select(i => Task.Run(() => TcpClient(tcpPort, i, stop.Token))).ToArray();
        Task<long>[] udp = Enumerable.Range(0, 4).Select(i => Task.Run(() => UdpClient(udpPort, i, stop.Token))).ToArray();
        Task<int> reloads = Task.Run(() => Reloads(www, mona, childPort, stop.Token));

        long tcpBytes = (await Task.WhenAll(tcp)).Sum();
        long datagrams = (await Task.WhenAll(udp)).Sum();
        int versions = await reloads;
        await sampler;

        // Every client has gone: the server gives back every descriptor.
        Stats last = await WaitForConnections(statsSocket, 1);
        int descriptorsAfter = Descriptors(mona.Id);
        await Assert.That(last.Connections).IsEqualTo(1); // the stats connection only
        await Assert.That(descriptorsAfter).IsEqualTo(descriptorsBefore);
        await Assert.That(tcpBytes).IsGreaterThan(10L << 20);
        await Assert.That(datagrams).IsGreaterThan(1000);
        await Assert.That(versions).IsGreaterThan(5);
        // Not growing without bound: the last third of the run holds no more than the first
        // third did, give or take a margin for the collector's timing.
        int third = Math.Max(1, samples.Count / 3);
        var early = samples.Take(third).ToList();
        var late = samples.Skip(samples.Count - third).ToList();
        await Assert.That(late.Max(s => s.Rss)).IsLessThan(early.Max(s => s.Rss) + 16 * 1024);
        await Assert.That(late.Max(s => s.Stats.ManagedHeap)).IsLessThan(early.Max(s => s.Stats.ManagedHeap) + (8L << 20));
        await Assert.That(late.Max(s => s.Stats.LuaMemory)).IsLessThan(early.Max(s => s.Stats.LuaMemory) + (8L << 20));
        await Assert.That(last.ManagedHeap).IsGreaterThan(0);
        await Assert.That(first.Connections).IsEqualTo(1);
        mona.Signal(MonaProcess.SIGTERM);
        await Assert.That(await mona.WaitForExit(TcpProcessTests.Wait)).IsEqualTo(0);
    }

    private readonly record struct Stats(long Connections, long ManagedHeap, long LuaMemory, long ManagedAllocated);

    private static async Task<Stats> AskStats(Socket socket)
    {
        await socket.SendAsync(Encoding.ASCII.GetBytes("stats?"), SocketFlags.None);
        var line = new StringBuilder();
        var one = new byte[1];
        while (true)
        {
            if (await socket.ReceiveAsync(one, SocketFlags.None) == 0)
                throw new InvalidOperationException("stats connection closed");
            if (one[0] == '\n')
                break;
            line.Append((char)one[0]);
        }
        long[] v = line.ToString().Split(' ').Select(long.Parse).ToArray();
        return new Stats(v[0], v[1], v[2], v[3]);
    }

    private static async Task<Stats> WaitForConnections(Socket socket, int count)
    {
        for (int attempt = 0; ; attempt++)
        {
            Stats stats = await AskStats(socket);
            if (stats.Connections == count || attempt == 200)
                return stats;
            await Task.Delay(50); // the server sees the clients' FINs on its next turns
        }
    }

    /// <summary>Random messages (1 byte to 256 KiB), sent in random pieces, read back whole
    /// and compared; every 50 messages it hangs up and connects again. Returns bytes echoed.</summary>
    private static async Task<long> TcpClient(int port, int seed, CancellationToken stop)
    {
        var random = new Random(seed);
        long total = 0;
        while (!stop.IsCancellationRequested)
        {
            using Socket socket = await TcpApp.Connect(port);
            for (int m = 0; m < 50 && !stop.IsCancellationRequested; m++)
            {
                var message = new byte[random.Next(4) == 0 ? random.Next(1, 256 * 1024) : random.Next(1, 2048)];
                random.NextBytes(message);
                if (message.Length == 6)
                    message[0] ^= 0xFF; // never the text "stats?"
                Task<byte[]> echo = TcpApp.ReadExactly(socket, message.Length);
                for (int sent = 0; sent < message.Length;)
                {
                    int piece = Math.Min(message.Length - sent, random.Next(1, 32 * 1024));
                    await socket.SendAsync(message.AsMemory(sent, piece), SocketFlags.None);
                    sent += piece;
                }
                byte[] back = await echo;
                if (!back.AsSpan().SequenceEqual(message))
                    throw new InvalidOperationException($"client {seed}: a {message.Length}-byte message came back changed");
                total += message.Length;
            }
            socket.Shutdown(SocketShutdown.Both);
        }
        return total;
    }

    /// <summary>UDP ping-pong with random sizes, every datagram compared. Returns datagrams echoed.</summary>
    private static async Task<long> UdpClient(int port, int seed, CancellationToken stop)
    {
        var random = new Random(100 + seed);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
        var buffer = new byte[65536];
        long count = 0;
        while (!stop.IsCancellationRequested)
        {
            var datagram = new byte[random.Next(1, 1400)];
            random.NextBytes(datagram);
            await socket.SendAsync(datagram, SocketFlags.None);
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, wait.Token);
            if (!buffer.AsSpan(0, n).SequenceEqual(datagram))
                throw new InvalidOperationException($"udp client {seed}: a datagram came back changed");
            count++;
        }
        return count;
    }

    /// <summary>Rewrites the child application every 2 s; each version must bind the port the
    /// previous one held. Returns the number of versions that came up.</summary>
    private static async Task<int> Reloads(TempWww www, MonaProcess mona, int port, CancellationToken stop)
    {
        int version = 0;
        while (!stop.IsCancellationRequested)
        {
            version++;
            www.WriteApp("/child", Child(version, port));
            string line = await mona.WaitForLineText($"child v{version} ", TimeSpan.FromSeconds(20));
            if (!line.EndsWith($"child v{version} up"))
                throw new InvalidOperationException($"reload {version}: {line}");
        }
        return version;
    }


    private static int Descriptors(int pid) => Directory.GetFiles($"/proc/{pid}/fd").Length;

    private static long RssKb(int pid) =>
        long.Parse(File.ReadAllLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
}
