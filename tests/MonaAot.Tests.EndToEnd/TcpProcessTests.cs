using System;
using System.Collections.Generic;
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

namespace MonaAot.Tests.EndToEnd;

/// <summary>TCP through the published out/monaaot, as a user runs it.</summary>
// Linux only: it runs the published Linux binary (out/monaaot) as a child process.
[RunOn(OS.Linux)]
public class TcpProcessTests
{
    internal static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    /// <summary>Echo, plus "stats?" answered with mona:stats().managedAllocatedBytes.</summary>
    private const string EchoWithStats = """
        server = mona:createTCPServer()
        function server:onConnection(client)
          function client:onReception(data)
            if data == "stats?" then
              self:send(tostring(mona:stats().managedAllocatedBytes) .. "\n")
            else
              self:send(data)
            end
          end
        end
        assert(server:start("127.0.0.1", 0))
        NOTE("port ", server.port)
        """;

    internal static async Task<int> PortOf(MonaProcess mona)
    {
        string line = await mona.WaitForLineText("] port ", Wait);
        return int.Parse(line[(line.LastIndexOf(' ') + 1)..]);
    }

    private static int OpenDescriptors(int pid) => Directory.GetFiles($"/proc/{pid}/fd").Length;

    private static void PingPong(Socket socket, int count)
    {
        var message = new byte[64];
        var reply = new byte[64];
        for (int i = 0; i < count; i++)
        {
            BitConverter.TryWriteBytes(message, i);
            socket.Send(message);
            int read = 0;
            while (read < reply.Length)
                read += socket.Receive(reply, read, reply.Length - read, SocketFlags.None);
            if (!reply.AsSpan().SequenceEqual(message))
                throw new InvalidDataException($"message {i} came back altered");
        }
    }

    /// <summary>
    /// The per-message path allocates no managed memory: what the whole process allocates over
    /// 100,000 echoed messages is what it allocates over 10,000, within a few KiB (the www
    /// scanner's periodic work and the like, which do not depend on traffic).
    /// </summary>
    [Test]
    [Timeout(180_000)]
    public async Task Echo_ManagedAllocations_DoNotGrowWithMessages(System.Threading.CancellationToken token)
    {
        using var www = new TempWww();
        www.WriteApp("", EchoWithStats + "\nticks = 0\nfunction onManage() ticks = ticks + 1 if ticks <= 2 then NOTE('tick ', ticks) end end\n");
        await using MonaProcess mona = MonaProcess.Start(www.Www);
        int port = await PortOf(mona);
        using Socket socket = await TcpApp.Connect(port);
        // The process's one-time start-up work (the first timer ticks, the watcher's first
        // check on a thread-pool thread) is done before anything is measured.
        await mona.WaitForLine("tick 2", Wait);

        // Under an emulator (Runner) a tenth of the traffic: a managed allocation per message, at
        // least 24 bytes, still shows as 9,000 x 24 bytes against the 8 KiB bound.
        int warm = Runner.Count(2_000, 10), small = Runner.Count(10_000, 10), large = Runner.Count(100_000, 10);
        (long growth10k, long growth100k) = await Task.Run(() =>
        {
            PingPong(socket, warm); // first use of every path
            long start = ChurnLoad.AskAllocated(socket);
            PingPong(socket, small);
            long after10k = ChurnLoad.AskAllocated(socket);
            PingPong(socket, large);
            long after100k = ChurnLoad.AskAllocated(socket);
            return (after10k - start, after100k - after10k);
        });

        await Assert.That(growth100k - growth10k).IsLessThan(8 * 1024).Because($"{small} messages: +{growth10k} bytes, {large} messages: +{growth100k} bytes");
    }

    [Test]
    public async Task DefaultWww_EchoServiceWorks()
    {
        using var www = new TempWww();
        string defaultWww = Path.Combine(Path.GetDirectoryName(MonaProcess.BinaryPath)!, "www");
        string ini = www.WriteIni("[echo]\nport=0\n");
        await using MonaProcess mona = MonaProcess.Start("--config", ini, defaultWww);
        string line = await mona.WaitForLineText("echo service listening on port ", Wait);
        int port = int.Parse(line.Split("port ")[1].Split(' ')[0]);

        using Socket socket = await TcpApp.Connect(port);
        await socket.SendAsync("hello MonaAot"u8.ToArray(), SocketFlags.None);

        await Assert.That(Encoding.ASCII.GetString(await TcpApp.ReadExactly(socket, 13))).IsEqualTo("hello MonaAot");
    }

    [Test]
    public async Task Descriptors_BackToStartAfterClientsLeave()
    {
        using var www = new TempWww();
        www.WriteApp("", """
            local gone = 0
            server = mona:createTCPServer()
            function server:onConnection(client)
              function client:onReception(data) self:send(data) end
              -- onDisconnection fires after the descriptor is closed: the count is the event
              function client:onDisconnection() gone = gone + 1 NOTE("gone ", gone) end
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """);
        await using MonaProcess mona = MonaProcess.Start(www.Www);
        int port = await PortOf(mona);
        int before = OpenDescriptors(mona.Id);

        var sockets = new List<Socket>();
        for (int i = 0; i < 50; i++)
            sockets.Add(await TcpApp.Connect(port));
        foreach (Socket socket in sockets)
        {
            await socket.SendAsync("x"u8.ToArray(), SocketFlags.None);
            await TcpApp.ReadExactly(socket, 1);
        }
        foreach (Socket socket in sockets)
            socket.Dispose();
        await mona.WaitForLine("] gone 50", Wait);

        await Assert.That(OpenDescriptors(mona.Id)).IsEqualTo(before);
    }

    /// <summary>
    /// With its descriptors exhausted the server keeps serving the connections it has, logs the
    /// condition once, and accepts again once descriptors are freed.
    /// </summary>
    [Test]
    [Timeout(120_000)]
    public async Task DescriptorExhaustion_ServerSurvivesAndRecovers(System.Threading.CancellationToken token)
    {
        using var www = new TempWww();
        www.WriteApp("", EchoWithStats);
        string script = Path.Combine(www.Root, "limited.sh");
        File.WriteAllText(script, $"ulimit -n 48\nexec {Runner.ShellCommand(MonaProcess.BinaryPath)} \"{www.Www}\"\n");
        await using MonaProcess mona = MonaProcess.StartCommand("/bin/bash", script);
        int port = await PortOf(mona);

        var sockets = new List<Socket>();
        try
        {
            for (int i = 0; i < 80; i++)
                sockets.Add(await TcpApp.Connect(port)); // the kernel completes them; the server cannot accept all
            await mona.WaitForLine("too many open files", Wait);
            await sockets[0].SendAsync("a"u8.ToArray(), SocketFlags.None);
            await Assert.That(Encoding.ASCII.GetString(await TcpApp.ReadExactly(sockets[0], 1))).IsEqualTo("a");

            foreach (Socket socket in sockets)
                socket.Dispose();
            sockets.Clear();
            using Socket fresh = await TcpApp.Connect(port);
            await fresh.SendAsync("b"u8.ToArray(), SocketFlags.None);

            await Assert.That(Encoding.ASCII.GetString(await TcpApp.ReadExactly(fresh, 1))).IsEqualTo("b");
            await Assert.That(mona.Lines.FindAll(l => l.Contains("too many open files")).Count).IsEqualTo(1);
        }
        finally
        {
            foreach (Socket socket in sockets)
                socket.Dispose();
        }
    }

    [Test]
    public async Task Sigterm_WithTrafficFlowing_DeliversQueuedDataAndExitsZero()
    {
        using var www = new TempWww();
        www.WriteApp("", """
            server = mona:createTCPServer()
            function server:onConnection(client)
              function client:onReception(data) self:send(string.rep(data, 1048576)) end
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """);
        await using MonaProcess mona = MonaProcess.Start(www.Www);
        using Socket socket = await TcpApp.Connect(await PortOf(mona));
        await socket.SendAsync("z"u8.ToArray(), SocketFlags.None);
        await TcpApp.ReadExactly(socket, 1); // the reply has started: 1 MiB is queued in the server

        mona.Signal(MonaProcess.SIGTERM);
        byte[] rest = await TcpApp.ReadToEnd(socket);

        await Assert.That(rest.Length).IsEqualTo((1 << 20) - 1);
        await Assert.That(await mona.WaitForExit(Wait)).IsEqualTo(0);
    }
}
