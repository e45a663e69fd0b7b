using System;
using System.IO;
using System.Linq;
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
/// Misbehaving peers all at once against the published binary, beside a healthy connection
/// streaming 8 MiB: a reset in the middle of a stream, a half-close, a peer that never reads
/// (send-queue limit), one that sends a byte at a time, one that connects and stays silent
/// (idle timeout). The healthy stream comes back intact and in order, every faulty connection
/// ends with its own reason, no descriptor is left behind, and SIGTERM then runs onStop and
/// exits 0.
/// </summary>
// Linux only: it runs the published Linux binary (out/monaaot) as a child process.
[RunOn(OS.Linux)]
[NotInParallel]
public class FaultProcessTests
{
    private const string Server = TestScripts.EchoWithGoodbye + "\nfunction onStop() NOTE(\"onStop ran\") end\n";

    [Test]
    [Timeout(120_000)]
    public async Task FaultyPeers_LeaveTheHealthyStreamAndTheDescriptorsIntact(CancellationToken cancel)
    {
        using var www = new TempWww();
        string ini = www.WriteIni("[tcp]\nidleTimeout=2\nsendLimit=1048576\n");
        www.WriteApp("", Server);
        await using MonaProcess mona = MonaProcess.Start("--config", ini, www.Www);
        int port = await TcpProcessTests.PortOf(mona);
        int descriptorsBefore = Directory.GetFiles($"/proc/{mona.Id}/fd").Length;

        Task healthy = Named("healthy stream", () => Stream(port, 8 << 20));
        Task reset = Named("reset mid-stream", () => ResetMidStream(port));
        Task half = Named("half-close", () => HalfClose(port));
        Task neverReads = Named("never reads", () => NeverReads(port, cancel));
        Task byteByByte = Named("one byte at a time", () => OneByteAtATime(port));
        Task silent = Named("silent", () => Silent(port));
        await Task.WhenAll(healthy, reset, half, neverReads, byteByByte, silent);

        // Six connections ended: each said why (or nothing, for the clean ones). A connection
        // closes its descriptor before onDisconnection runs, so the count is final by then.
        var gone = new string[6];
        for (int n = 0, line = -1; n < gone.Length; n++)
        {
            line = await mona.WaitForLine("gone ", TcpProcessTests.Wait, from: line + 1);
            string text = mona.Lines[line];
            gone[n] = text[(text.IndexOf("gone ") + 5)..];
        }
        await Assert.That(gone.Count(g => g.StartsWith("send queue limit exceeded"))).IsEqualTo(1);
        await Assert.That(gone.Count(g => g.StartsWith("idle for 2 s"))).IsEqualTo(1);
        await Assert.That(gone.Count(g => g == "(null)")).IsGreaterThanOrEqualTo(3); // healthy, half-close, byte by byte
        await Assert.That(Directory.GetFiles($"/proc/{mona.Id}/fd").Length).IsEqualTo(descriptorsBefore);

        mona.Signal(MonaProcess.SIGTERM);
        await Assert.That(await mona.WaitForExit(TcpProcessTests.Wait)).IsEqualTo(0);
        await Assert.That(mona.Lines.Any(l => l.Contains("onStop ran"))).IsTrue();
    }

    /// <summary>Runs one peer; its failure names it.</summary>
    private static Task Named(string name, Func<Task> peer) => Task.Run(async () =>
    {
        try
        {
            await peer();
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"{name}: {e.Message}", e);
        }
    });

    /// <summary>Sends <paramref name="size"/> bytes of a counting pattern in random pieces while
    /// reading the echo, and checks every byte. At most 256 KiB are in flight: a healthy peer
    /// reads what it asked for, so the server never queues near the 1 MiB send limit for it.</summary>
    private static async Task Stream(int port, int size)
    {
        const int Window = 256 * 1024;
        using Socket socket = await TcpApp.Connect(port);
        var data = new byte[size];
        for (int i = 0; i < size; i += 4)
            BitConverter.TryWriteBytes(data.AsSpan(i), i / 4);
        var back = new byte[size];
        int received = 0;
        var random = new Random(3);
        for (int sent = 0; sent < size || received < size;)
        {
            if (sent < size && sent - received < Window)
            {
                int piece = Math.Min(Math.Min(size - sent, Window - (sent - received)), random.Next(1, 100_000));
                await socket.SendAsync(data.AsMemory(sent, piece), SocketFlags.None);
                sent += piece;
                continue;
            }
            int n = await socket.ReceiveAsync(back.AsMemory(received, sent - received), SocketFlags.None);
            if (n == 0)
                throw new InvalidOperationException($"closed after {received} bytes");
            received += n;
        }
        int wrong = FirstDifference(back, data);
        if (wrong >= 0)
            throw new InvalidOperationException($"healthy stream differs at byte {wrong}");
        socket.Shutdown(SocketShutdown.Both);
    }

    private static int FirstDifference(byte[] a, byte[] b)
    {
        int common = a.AsSpan().CommonPrefixLength(b);
        return common == a.Length && a.Length == b.Length ? -1 : common;
    }

    /// <summary>Sends, reads a little of the echo, then closes with a reset (SO_LINGER 0)
    /// while the server is still sending to it.</summary>
    private static async Task ResetMidStream(int port)
    {
        using Socket socket = await TcpApp.Connect(port);
        await socket.SendAsync(new byte[512 * 1024], SocketFlags.None);
        await TcpApp.ReadExactly(socket, 1000);
        socket.LingerState = new LingerOption(true, 0);
        socket.Close();
    }

    private static async Task HalfClose(int port)
    {
        using Socket socket = await TcpApp.Connect(port);
        await socket.SendAsync(Encoding.ASCII.GetBytes("half-closed"), SocketFlags.None);
        socket.Shutdown(SocketShutdown.Send);
        byte[] back = await TcpApp.ReadToEnd(socket);
        if (Encoding.ASCII.GetString(back) != "half-closed")
            throw new InvalidOperationException($"half-close got '{Encoding.ASCII.GetString(back)}'");
    }

    /// <summary>Sends far more than the send limit and reads nothing: the server must end it.</summary>
    private static async Task NeverReads(int port, CancellationToken cancel)
    {
        using Socket socket = await TcpApp.Connect(port);
        socket.ReceiveBufferSize = 64 * 1024;
        var chunk = new byte[256 * 1024];
        try
        {
            for (int i = 0; i < 256 && !cancel.IsCancellationRequested; i++) // 64 MiB at most
                await socket.SendAsync(chunk, SocketFlags.None, cancel);
        }
        catch (SocketException)
        {
            return; // the server ended the connection, as it must
        }
        throw new InvalidOperationException("a peer that never reads was not cut off");
    }

    private static async Task OneByteAtATime(int port)
    {
        using Socket socket = await TcpApp.Connect(port);
        for (int i = 0; i < 300; i++)
        {
            await socket.SendAsync(new[] { (byte)i }, SocketFlags.None);
            if ((await TcpApp.ReadExactly(socket, 1))[0] != (byte)i)
                throw new InvalidOperationException($"byte {i} came back changed");
        }
        socket.Shutdown(SocketShutdown.Both);
    }

    /// <summary>Connects and says nothing: the idle timeout must end it (the read sees the end).</summary>
    private static async Task Silent(int port)
    {
        using Socket socket = await TcpApp.Connect(port);
        byte[] rest = await TcpApp.ReadToEnd(socket);
        if (rest.Length != 0)
            throw new InvalidOperationException("a silent peer got data");
    }
}
