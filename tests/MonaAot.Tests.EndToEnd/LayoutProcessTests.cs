using System;
using System.Linq;
using System.Threading.Tasks;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;
using TUnit.Core.Enums;

namespace MonaAot.Tests.EndToEnd;

/// <summary>
/// The start-up check of every struct shared with the kernel or C against the shim's own answer
/// for the architecture it was built for (docs/architecture.md): the binary says at DEBUG how
/// many it checked, and serves. Under MONAAOT_RUNNER this is what shows that the linux-arm64
/// binary's layouts were checked where they are used, in the emulated process.
/// </summary>
// Linux only: it runs the published Linux binary (out/monaaot) as a child process.
[RunOn(OS.Linux)]
public class LayoutProcessTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Test]
    public async Task Start_ChecksEveryLayout_ThenServes()
    {
        using var www = new TempWww();
        www.WriteApp("", """
            server = mona:createTCPServer()
            function server:onConnection(client)
              function client:onReception(data) self:send(data) end
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """);
        await using MonaProcess mona = MonaProcess.Start("--log=7", www.Www);

        string line = await mona.WaitForLineText(" layouts checked", Wait);
        int port = await TcpProcessTests.PortOf(mona);
        using var socket = await TcpApp.Connect(port);
        await socket.SendAsync("layout"u8.ToArray(), System.Net.Sockets.SocketFlags.None);

        await Assert.That(System.Text.Encoding.ASCII.GetString(await TcpApp.ReadExactly(socket, 6))).IsEqualTo("layout");
        string count = line[..line.IndexOf(" layouts checked", StringComparison.Ordinal)].Split(' ').Last();
        await Assert.That(int.Parse(count)).IsGreaterThan(0).Because(line);
    }
}
