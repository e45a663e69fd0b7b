using System;
using System.Net.Sockets;
using System.Threading.Tasks;
using MonaAot.Tests.Net;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Lua;

/// <summary>
/// The Lua collector under connection churn (docs/architecture.md, "Memory upkeep"): a closed
/// connection's userdata has a __gc, so each cycle keeps the previous cycle's dead connections
/// one cycle more, and with the pause at 400 the heap grew cycle after cycle. Each released
/// object now paces the collector (LuaVm.ReleasedObjectStepKb, stepped by the loop before it
/// waits), so the garbage of closed connections goes within a few turns: the heap stays near
/// its size with none. No full collection is asked for anywhere here (the harness has no idle
/// trim), so what is measured is the collector's own pace.
/// </summary>
public class CollectorPacingTests
{
    private static async Task EchoAndClose(int port, int count)
    {
        var message = new byte[64];
        for (int i = 0; i < count; i++)
        {
            using Socket socket = await TcpApp.Connect(port);
            BitConverter.TryWriteBytes(message, i);
            await socket.SendAsync(message, SocketFlags.None);
            byte[] echoed = await TcpApp.ReadExactly(socket, message.Length);
            if (!echoed.AsSpan().SequenceEqual(message))
                throw new InvalidOperationException($"connection {i}: echo altered");
        }
    }

    [Test]
    [Timeout(120_000)]
    public async Task ClosedConnections_GarbageCollectedAtTheirPace(System.Threading.CancellationToken token)
    {
        await using TcpApp app = await TcpApp.Start(TcpEchoTests.EchoServer);
        int port = await app.Log.WaitForNumber("port ");
        // Every path used once, then the heap with the garbage of a few connections at most.
        await EchoAndClose(port, 100);
        long start = await app.Harness.OnLoop(() => app.Harness.Vm.MemoryInUse);

        // 4 clients at once, 3,000 connections in all (about 3 MB of Lua garbage: userdata,
        // fields table, onReception closure and message strings), the heap looked at between
        // rounds of 100 each.
        long peak = start;
        for (int round = 0; round < 8; round++)
        {
            await Task.WhenAll(EchoAndClose(port, 100), EchoAndClose(port, 100), EchoAndClose(port, 100), EchoAndClose(port, 75));
            peak = Math.Max(peak, await app.Harness.OnLoop(() => app.Harness.Vm.MemoryInUse));
        }

        // Without the pacing the heap ends near 1 MB above its start here (and tens of MB under
        // sustained churn); with it, within the garbage of a few hundred connections.
        await Assert.That(peak - start).IsLessThan(256 * 1024).Because($"start {start} bytes, peak {peak} bytes");
        await Assert.That(await app.StopAndCountOpenSockets()).IsEqualTo(0);
    }
}
