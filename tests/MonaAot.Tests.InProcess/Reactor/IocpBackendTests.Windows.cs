using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Threading.Tasks;
using MonaAot.Reactor;
using MonaAot.Reactor.Iocp;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;
using TUnit.Core.Enums;

namespace MonaAot.Tests.Reactor;

/// <summary>
/// The IOCP backend's own bookkeeping, which the socket suites cannot see: operation blocks
/// are freed once the kernel is done with them, also when their socket closes while they are
/// in flight (the cancelled completion comes later). Windows only (the Wine run).
/// </summary>
[RunOn(OS.Windows)]
[SupportedOSPlatform("windows")]
public class IocpBackendTests
{
    [Test]
    public async Task ClosingWithOperationsInFlight_FreesEveryBlockWhenItsCancellationCompletes()
    {
        await using TcpApp app = await TcpApp.Start("""
            server = mona:createTCPServer()
            function server:onConnection(client)
              client:send(string.rep("x", 8 * 1048576)) -- more than the kernel takes: a send is posted
              NOTE("queued ", client.connected)
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """, ini: "[tcp]\nsendTimeout=1\n");
        IocpBackend backend = app.Harness.Loop.Iocp;
        using Socket peer = await TcpApp.Connect(await app.Log.WaitForNumber("port "));
        await Assert.That(await app.Log.WaitFor("queued ")).IsEqualTo("queued (true)");
        int busy = await app.Harness.OnLoop(() => backend.LiveOperations);
        // The listener's accepts and readiness block, the connection's readiness block and send.
        await Assert.That(busy).IsGreaterThanOrEqualTo(11);

        // The peer reads nothing: stopping the application closes the listener at once and the
        // connection when its drain has made no progress for the send timeout, with their
        // operations still posted.
        await Assert.That(await app.StopAndCountOpenSockets()).IsEqualTo(0);
        await Assert.That(await LiveOperationsOnceSettled(app, backend, 0)).IsEqualTo(0);
    }

    /// <summary>Checks on the loop every 10 ms, for at most 10 s, until the count is
    /// <paramref name="expected"/>; returns the last count seen.</summary>
    private static async Task<int> LiveOperationsOnceSettled(TcpApp app, IocpBackend backend, int expected)
    {
        var settled = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        long deadline = EventLoop.Now + 10_000;
        void Check()
        {
            int live = backend.LiveOperations;
            if (live == expected || EventLoop.Now > deadline)
                settled.SetResult(live);
            else
                app.Harness.Loop.Schedule(10, 0, Check);
        }
        app.Harness.Loop.Post(Check);
        return await settled.Task;
    }
}
