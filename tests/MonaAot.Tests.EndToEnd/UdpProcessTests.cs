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

namespace MonaAot.Tests.EndToEnd;

/// <summary>UDP through the published out/monaaot.</summary>
// Linux only: it runs the published Linux binary (out/monaaot) as a child process.
[RunOn(OS.Linux)]
public class UdpProcessTests
{
    /// <summary>The per-datagram path allocates nothing managed either (UDP echo, same method
    /// as <see cref="TcpProcessTests.Echo_ManagedAllocations_DoNotGrowWithMessages"/>).</summary>
    [Test]
    [Timeout(180_000)]
    public async Task UdpEcho_ManagedAllocations_DoNotGrowWithDatagrams(System.Threading.CancellationToken token)
    {
        using var www = new TempWww();
        www.WriteApp("", """
            udp = mona:createUDPSocket()
            function udp:onReception(data, address)
              if data == "stats?" then
                self:send(tostring(mona:stats().managedAllocatedBytes), address)
              else
                self:send(data, address)
              end
            end
            assert(udp:bind("127.0.0.1:0") == nil)
            NOTE("port ", udp.address:match(":(%d+)$"))
            ticks = 0
            function onManage() ticks = ticks + 1 if ticks <= 2 then NOTE('tick ', ticks) end end
            """);
        await using MonaProcess mona = MonaProcess.Start(www.Www);
        int port = await TcpProcessTests.PortOf(mona);
        await mona.WaitForLine("tick 2", TcpProcessTests.Wait);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
        socket.ReceiveTimeout = 5000;

        // Under an emulator (Runner) a tenth of the traffic: a managed allocation per message, at
        // least 24 bytes, still shows as 9,000 x 24 bytes against the 8 KiB bound.
        int warm = Runner.Count(2_000, 10), small = Runner.Count(10_000, 10), large = Runner.Count(100_000, 10);
        (long growth10k, long growth100k) = await Task.Run(() =>
        {
            UdpPingPong(socket, warm);
            long start = AskAllocatedUdp(socket);
            UdpPingPong(socket, small);
            long after10k = AskAllocatedUdp(socket);
            UdpPingPong(socket, large);
            long after100k = AskAllocatedUdp(socket);
            return (after10k - start, after100k - after10k);
        });

        await Assert.That(growth100k - growth10k).IsLessThan(8 * 1024).Because($"{small} datagrams: +{growth10k} bytes, {large} datagrams: +{growth100k} bytes");
    }

    private static void UdpPingPong(Socket socket, int count)
    {
        var message = new byte[64];
        var reply = new byte[64];
        for (int i = 0; i < count; i++)
        {
            BitConverter.TryWriteBytes(message, i);
            socket.Send(message);
            if (socket.Receive(reply) != 64 || !reply.AsSpan().SequenceEqual(message))
                throw new InvalidDataException($"datagram {i} came back altered");
        }
    }

    private static long AskAllocatedUdp(Socket socket)
    {
        socket.Send("stats?"u8);
        var buffer = new byte[64];
        int length = socket.Receive(buffer);
        return long.Parse(Encoding.ASCII.GetString(buffer, 0, length));
    }

}
