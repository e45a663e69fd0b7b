using System;
using System.IO;
using System.Linq;
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

/// <summary>
/// TCPServer.proxyProtocol behind a real HAProxy (Debian's haproxy, installed by build.sh):
/// round robin over two published binaries, one sent v1 (`send-proxy`), the other v2
/// (`send-proxy-v2`), with TCP health checks every 100 ms. The config is the one in
/// docs/guide.md, "Behind HAProxy".
/// </summary>
[RunOn(OS.Linux)]
public class HaproxyProcessTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    /// <summary>Answers "who" with its name and the client's peerAddress.</summary>
    private static string Script(string name) => $$"""
        server = mona:createTCPServer()
        server.proxyProtocol = {"127.0.0.1", "::1"}
        function server:clientHandler(client)
          function client:onReception(data)
            self:send("{{name}} " .. self.peerAddress .. " via " .. tostring(self.proxyAddress) .. "\n")
          end
        end
        assert(server:start("127.0.0.1", 0))
        NOTE("port ", server.port)
        """;

    private static async Task<string> Ask(int port)
    {
        using Socket socket = await TcpApp.Connect(port, IPAddress.Loopback);
        await socket.SendAsync("who"u8.ToArray());
        var buffer = new byte[256];
        int length = 0;
        while (length == 0 || buffer[length - 1] != (byte)'\n')
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(length)).AsTask().WaitAsync(Wait);
            if (n == 0)
                throw new IOException("closed before the answer");
            length += n;
        }
        var end = (IPEndPoint)socket.LocalEndPoint!; // a dual-stack socket: a mapped IPv4 address
        string local = new IPEndPoint(end.Address.IsIPv4MappedToIPv6 ? end.Address.MapToIPv4() : end.Address, end.Port).ToString();
        return Encoding.ASCII.GetString(buffer, 0, length - 1).Replace(local, "ME");
    }

    [Test]
    [Timeout(120_000)]
    public async Task RoundRobin_V1AndV2_ScriptsSeeTheTestClient_AndChecksStayQuiet(System.Threading.CancellationToken token)
    {
        Skip.Unless(File.Exists("/usr/sbin/haproxy"), "haproxy is not installed (build.sh installs it)");
        using var wwwA = new TempWww();
        using var wwwB = new TempWww();
        wwwA.WriteApp("", Script("A"));
        wwwB.WriteApp("", Script("B"));
        await using MonaProcess a = MonaProcess.Start("--log", "7", wwwA.Www);
        await using MonaProcess b = MonaProcess.Start("--log", "7", wwwB.Www);
        int portA = await TcpProcessTests.PortOf(a), portB = await TcpProcessTests.PortOf(b);
        int front = TcpApp.FreePort();
        string config = wwwA.WriteIni($"""
            global
                maxconn 100

            defaults
                mode tcp
                timeout connect 2s
                timeout client 10s
                timeout server 10s

            frontend front
                bind 127.0.0.1:{front}
                default_backend monaaot

            backend monaaot
                balance roundrobin
                server a 127.0.0.1:{portA} send-proxy check inter 100ms
                server b 127.0.0.1:{portB} send-proxy-v2 check inter 100ms

            """, "haproxy.cfg");
        await using MonaProcess haproxy = MonaProcess.StartCommand("/usr/sbin/haproxy", "-f", config, "-db");
        // Health checks reached both instances (at DEBUG), so both are up.
        await a.WaitForLine("PROXY protocol: closed before any byte", Wait);
        await b.WaitForLine("PROXY protocol: closed before any byte", Wait);

        var answers = new System.Collections.Generic.List<string>();
        for (int i = 0; i < 6; i++)
            answers.Add(await Ask(front));

        // Each instance answered three, naming the test's own socket and HAProxy's side.
        string seen = string.Join(" | ", answers.Select(s => System.Text.RegularExpressions.Regex.Replace(s, @"via 127\.0\.0\.1:\d+$", "via HAPROXY")).Order());
        await Assert.That(seen).IsEqualTo("A ME via HAPROXY | A ME via HAPROXY | A ME via HAPROXY | B ME via HAPROXY | B ME via HAPROXY | B ME via HAPROXY");
        await Assert.That(a.Lines.Concat(b.Lines).Where(l => l.Contains(" WARN ") && !l.Contains("proxyProtocol = true"))).IsEmpty();
    }
}
