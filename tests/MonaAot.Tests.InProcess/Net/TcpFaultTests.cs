using System;
using System.Net.Sockets;
using System.Text;
using System.Threading.Tasks;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Net;

/// <summary>Peers that misbehave (issue: reliability): silent ones, and one byte at a time;
/// a healthy connection beside them is not affected.</summary>
public class TcpFaultTests
{
    private const string EchoWithGoodbye = TestScripts.EchoWithGoodbye;

    [Test]
    public async Task IdleTimeout_EndsASilentPeer_NotABusyOne()
    {
        await using TcpApp app = await TcpApp.Start(EchoWithGoodbye, "[tcp]\nidleTimeout=1\n");
        int port = await app.Log.WaitForNumber("port ");
        using Socket silent = await TcpApp.Connect(port); // connects and never sends
        using Socket busy = await TcpApp.Connect(port);

        // The busy one talks until the silent one is gone: more than the whole timeout.
        Task<byte[]> silentEnd = TcpApp.ReadToEnd(silent);
        int exchanges = 0;
        while (!silentEnd.IsCompleted)
        {
            await busy.SendAsync(Encoding.ASCII.GetBytes("tick"), SocketFlags.None);
            await Assert.That(Encoding.ASCII.GetString(await TcpApp.ReadExactly(busy, 4))).IsEqualTo("tick");
            exchanges++;
            await Task.WhenAny(silentEnd, Task.Delay(50)); // paces the busy peer; the wait is on the silent one's end
        }

        await Assert.That((await silentEnd).Length).IsEqualTo(0);
        await Assert.That(await app.Log.WaitFor("gone ")).IsEqualTo("gone idle for 1 s ([tcp] idleTimeout)");
        await busy.SendAsync(Encoding.ASCII.GetBytes("still"), SocketFlags.None);
        await Assert.That(Encoding.ASCII.GetString(await TcpApp.ReadExactly(busy, 5))).IsEqualTo("still");
        // It talked across the timeout (the loop runs until the silent one is ended, at 1 s at the
        // earliest) and is still served. How many exchanges fit in that second depends on the
        // machine's load (a bound of 10 failed under Wine on a loaded CI machine): not asserted.
        await Assert.That(exchanges).IsGreaterThan(1);
        await Assert.That(app.Log.MessagesStartingWith("gone ").Count).IsEqualTo(1);
    }

    [Test]
    public async Task OneByteAtATime_EveryByteEchoedInOrder()
    {
        await using TcpApp app = await TcpApp.Start(EchoWithGoodbye);
        using Socket socket = await TcpApp.Connect(await app.Log.WaitForNumber("port "));
        var random = new Random(7);
        var expected = new byte[3000];
        random.NextBytes(expected);

        var received = new byte[expected.Length];
        for (int i = 0; i < expected.Length; i++)
        {
            await socket.SendAsync(expected.AsMemory(i, 1), SocketFlags.None);
            (await TcpApp.ReadExactly(socket, 1)).CopyTo(received, i);
        }

        await Assert.That(received).IsEquivalentTo(expected);
    }
}
