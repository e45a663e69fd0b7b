using System;
using System.Net;
using System.Net.Sockets;
using System.Threading.Tasks;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;
using TUnit.Core.Enums;

namespace MonaAot.Tests.EndToEnd;

/// <summary>The lossless end of docs/api.md, "client:disconnect()", against the published binary:
/// the issue's slow reader, and the shutdown drain that says what it could not deliver.</summary>
// Linux only: it runs the published Linux binary (out/monaaot) as a child process.
[RunOn(OS.Linux)]
public class FlowProcessTests
{
    private const string SendAndDisconnect = """
        server = mona:createTCPServer()
        function server:onConnection(client)
          function client:onDisconnection() NOTE("gone ", self.error) end
          client:send(string.rep("x", 8 * 1048576))
          client:disconnect()
        end
        assert(server:start("127.0.0.1", 0))
        NOTE("port ", server.port)
        """;

    [Test]
    [Timeout(60_000)]
    public async Task Disconnect_ReaderStalls3s_GetsAll8MiB_SenderSeesNoError(System.Threading.CancellationToken cancel)
    {
        using var www = new TempWww();
        www.WriteApp("", SendAndDisconnect);
        await using MonaProcess mona = MonaProcess.Start(www.Www);
        int port = await TcpProcessTests.PortOf(mona);
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 65536 };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancel);

        await Task.Delay(3000, cancel); // the slow reader of the issue: it stalls, then reads
        bool endedEarly = mona.Lines.Exists(line => line.Contains(" gone ", StringComparison.Ordinal));
        byte[] all = await TcpApp.ReadToEnd(socket);

        await Assert.That(endedEarly).IsFalse().Because("more than the kernel holds was still queued");
        await Assert.That(all.Length).IsEqualTo(8 << 20);
        await Assert.That(await mona.WaitForLineText(" gone ", TcpProcessTests.Wait)).EndsWith("gone (null)");
    }

    [Test]
    [Timeout(60_000)]
    public async Task Sigterm_PeerNotReading_LogsWhatWasNotDelivered_ExitsZero(System.Threading.CancellationToken cancel)
    {
        using var www = new TempWww();
        www.WriteApp("", """
            server = mona:createTCPServer()
            function server:onConnection(client)
              client:send(string.rep("y", 32 * 1048576))
              NOTE("queued ", client.queueing)
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """);
        await using MonaProcess mona = MonaProcess.Start(www.Www);
        using Socket socket = await TcpApp.Connect(await TcpProcessTests.PortOf(mona));
        await mona.WaitForLine("queued ", TcpProcessTests.Wait);

        mona.Signal();
        int code = await mona.WaitForExit(TimeSpan.FromSeconds(30));

        await Assert.That(code).IsEqualTo(0);
        string line = await mona.WaitForLineText("still sending", TcpProcessTests.Wait);
        await Assert.That(line).Matches(@"stopping after 5 s with 1 connection\(s\) still sending: [1-9][0-9]* bytes not delivered$");
    }
}
