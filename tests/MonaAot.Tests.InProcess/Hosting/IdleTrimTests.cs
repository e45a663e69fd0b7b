using System;
using System.Linq;
using System.Net.Sockets;
using System.Threading.Tasks;
using MonaAot.Hosting;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Hosting;

/// <summary>
/// The idle trim's trigger is "the load dropped", not "no I/O at all" (docs/architecture.md,
/// "Memory upkeep"): a server with a light heartbeat still trims after a burst.
/// </summary>
public class IdleTrimTests
{
    // An echo server, and a heartbeat: a UDP datagram to itself every 100 ms (an I/O event
    // each, so there is never a second without one).
    private const string Script = """
        server = mona:createTCPServer()
        function server:onConnection(client)
          function client:onReception(data) self:send(data) end
        end
        assert(server:start("127.0.0.1", 0))
        hb = mona:createUDPSocket()
        beats = 0
        function hb:onReception(data)
          beats = beats + 1
          NOTE("beat ", beats)
        end
        assert(hb:bind("127.0.0.1:0") == nil)
        local target = hb.address
        mona:setTimer(function() hb:send("b", target) return 100 end, 100)
        NOTE("port ", server.port)
        """;

    [Test]
    [Timeout(120_000)]
    public async Task Burst_ThenHeartbeatOnly_Trims(System.Threading.CancellationToken token)
    {
        await using TcpApp app = await TcpApp.Start(Script);
        int port = await app.Log.WaitForNumber("port ");
        IdleTrim trim = await app.Harness.OnLoop(() => new IdleTrim(app.Harness.Loop, app.Harness.Vm, app.Harness.Logger));
        await app.Log.WaitFor("beat 2");

        // The burst: 500 connections, each an accept, a read, an echo and a close (well over
        // the 1,000 I/O events that make a trim worth it).
        var message = new byte[64];
        for (int i = 0; i < 500; i++)
        {
            using Socket socket = await TcpApp.Connect(port);
            await socket.SendAsync(message, SocketFlags.None);
            await TcpApp.ReadExactly(socket, message.Length);
        }

        string trimmed = await app.Log.WaitFor("trimmed: ", TimeSpan.FromSeconds(60));
        await Assert.That(trimmed).Contains("spare objects dropped");
        // The heartbeat went on before the trim and after it.
        var messages = app.Log.Messages;
        int at = messages.IndexOf(trimmed);
        int beatsBefore = messages.Take(at).Count(m => m.StartsWith("beat ", StringComparison.Ordinal));
        await Assert.That(beatsBefore).IsGreaterThan(2);
        await app.Log.WaitFor($"beat {beatsBefore + 2}");
        await Assert.That(await app.Harness.OnLoop(() => trim.Trims)).IsGreaterThanOrEqualTo(1);
        await Assert.That(await app.StopAndCountOpenSockets()).IsEqualTo(0);
    }

    // A steady light load that never drops: about 50 datagrams a second (under QuietEvents a
    // window), each leaving some 16 KiB of Lua garbage, over a live heap of a few MiB.
    private const string SteadyScript = """
        keep = {}
        for i = 1, 40000 do keep[i] = "live" .. i end
        hb = mona:createUDPSocket()
        received = 0
        function hb:onReception(data)
          local t = {}
          for i = 1, 200 do t[i] = data .. i end
          received = received + 1
          if received % 50 == 0 then NOTE("received ", received) end
        end
        assert(hb:bind("127.0.0.1:0") == nil)
        local target = hb.address
        mona:setTimer(function() hb:send(string.rep("b", 64), target) return 20 end, 20)
        NOTE("ready")
        """;

    /// <summary>A load that never went above QuietEvents a window did not drop: no trim, whose
    /// full collection of the live heap would otherwise block the loop every MinIntervalMs
    /// (the Lua heap outgrows the last trim's floor by HeapGrowth every few seconds here, as
    /// the incremental collector lets it, at pause 400).</summary>
    [Test]
    [Timeout(120_000)]
    public async Task SteadyLightLoad_NeverTrims(System.Threading.CancellationToken token)
    {
        await using TcpApp app = await TcpApp.Start(SteadyScript);
        await app.Log.WaitFor("ready");
        IdleTrim trim = await app.Harness.OnLoop(() => new IdleTrim(app.Harness.Loop, app.Harness.Vm, app.Harness.Logger));
        long eventsBefore = await app.Harness.OnLoop(() => app.Harness.Loop.IoEventCount);

        // 650 datagrams, one every 20 ms: 13 windows at least, whatever the machine's pace,
        // over which the heap outgrew the floor by HeapGrowth several times.
        await app.Log.WaitFor("received 650", TimeSpan.FromSeconds(90));

        long events = await app.Harness.OnLoop(() => app.Harness.Loop.IoEventCount) - eventsBefore;
        await Assert.That(events).IsGreaterThan(130); // the load ran: 10 events a second at least
        await Assert.That(await app.Harness.OnLoop(() => trim.Trims)).IsEqualTo(0);
        await Assert.That(await app.StopAndCountOpenSockets()).IsEqualTo(0);
    }
}
