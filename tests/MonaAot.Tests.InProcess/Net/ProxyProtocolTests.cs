using System;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Tasks;
using MonaAot.Diagnostics;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;
using static MonaAot.Tests.Support.ProxyHeaders;

namespace MonaAot.Tests.Net;

/// <summary>
/// TCPServer.proxyProtocol (docs/api.md) over real loopback sockets: crafted v1 and v2 headers,
/// whole or a byte at a time, with data behind them; what reaches the script (peerAddress the
/// header's, proxyAddress the socket's peer) and what is closed and logged instead.
/// </summary>
public class ProxyProtocolTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    /// <summary>A server with proxyProtocol = <paramref name="setting"/> that notes every client
    /// it is handed and echoes what it receives.</summary>
    private static async Task<(TcpApp App, int Port)> Server(string setting = "true", string ini = "")
    {
        TcpApp app = await TcpApp.Start($$"""
            server = mona:createTCPServer()
            server.proxyProtocol = {{setting}}
            function server:clientHandler(client)
              NOTE("accepted ", client.peerAddress, " ", tostring(client.proxyAddress))
              function client:onReception(data) NOTE("got ", data) self:send(data) end
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """, ini);
        return (app, await app.Log.WaitForNumber("port "));
    }

    /// <summary>Sends <paramref name="header"/> then "hello" (a byte at a time when asked), and
    /// reads the echo back.</summary>
    private static async Task<Socket> SendAndEcho(int port, byte[] header, bool byteByByte)
    {
        Socket socket = await TcpApp.Connect(port);
        byte[] all = [.. header, .. "hello"u8.ToArray()];
        if (byteByByte)
        {
            foreach (byte b in all)
            {
                await socket.SendAsync(new[] { b });
                await Task.Yield();
            }
        }
        else
        {
            await socket.SendAsync(all);
        }
        await Assert.That(Encoding.ASCII.GetString(await TcpApp.ReadExactly(socket, 5))).IsEqualTo("hello");
        return socket;
    }

    /// <summary>The server closed the connection: an end of stream, or a reset when it closed
    /// with bytes of ours unread (refused at accept, before reading anything).</summary>
    private static async Task<bool> ClosedByServer(Socket socket)
    {
        try
        {
            return (await TcpApp.ReadToEnd(socket)).Length == 0;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return true;
        }
    }

    /// <summary>The test socket's own address as MonaAot prints it (a mapped IPv4 as IPv4).</summary>
    private static string Local(Socket socket)
    {
        var end = (IPEndPoint)socket.LocalEndPoint!;
        return new IPEndPoint(end.Address.IsIPv4MappedToIPv6 ? end.Address.MapToIPv4() : end.Address, end.Port).ToString();
    }

    [Test]
    [Arguments(false)]
    [Arguments(true)]
    public async Task V1_Tcp4_AndTcp6_ThePeerIsTheHeadersClient(bool byteByByte)
    {
        var (app, port) = await Server();
        await using TcpApp _ = app;
        using Socket first = await SendAndEcho(port, Encoding.ASCII.GetBytes("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"), byteByByte);
        await Assert.That(await app.Log.WaitFor("accepted ")).IsEqualTo($"accepted 192.0.2.1:56324 {Local(first)}");
        using Socket second = await SendAndEcho(port, Encoding.ASCII.GetBytes("PROXY TCP6 2001:db8::1 2001:db8::2 4000 80\r\n"), byteByByte);
        await app.Log.WaitForEntry(e => e.Message.StartsWith("accepted [2001:db8::1]:4000 "), "the TCP6 client", Bound);
    }

    [Test]
    public async Task V1_Unknown_KeepsTheSocketsPeer()
    {
        var (app, port) = await Server();
        await using TcpApp _ = app;
        using Socket socket = await SendAndEcho(port, Encoding.ASCII.GetBytes("PROXY UNKNOWN\r\n"), byteByByte: false);
        await Assert.That(await app.Log.WaitFor("accepted ")).IsEqualTo($"accepted {Local(socket)} {Local(socket)}");
    }

    [Test]
    [Arguments(false)]
    [Arguments(true)]
    public async Task V2_Ipv4WithTlvs_AndIpv6(bool byteByByte)
    {
        var (app, port) = await Server("{\"127.0.0.1\"}");
        await using TcpApp _ = app;
        byte[] tlvs = [0x01, 0x00, 0x02, (byte)'h', (byte)'2', 0x04, 0x00, 0x03, 1, 2, 3];
        using Socket first = await SendAndEcho(port, V2Inet(IPAddress.Parse("192.0.2.7"), 1234, IPAddress.Parse("10.0.0.1"), 80, tlvs), byteByByte);
        await Assert.That(await app.Log.WaitFor("accepted ")).IsEqualTo($"accepted 192.0.2.7:1234 {Local(first)}");
        using Socket second = await SendAndEcho(port, V2Inet(IPAddress.Parse("2001:db8::7"), 65535, IPAddress.Parse("::1"), 1), byteByByte);
        await app.Log.WaitForEntry(e => e.Message == $"accepted [2001:db8::7]:65535 {Local(second)}", "the IPv6 client", Bound);
    }

    [Test]
    public async Task V2_Local_WithData_IsTheSocketsPeer_AndAlone_IsAQuietHealthCheck()
    {
        var (app, port) = await Server();
        await using TcpApp _ = app;
        using (Socket check = await TcpApp.Connect(port))
        {
            await check.SendAsync(V2(0, 0x00, []));
            check.Shutdown(SocketShutdown.Send);
            await Assert.That((await TcpApp.ReadToEnd(check)).Length).IsEqualTo(0);
        }
        await app.Log.WaitForEntry(e => e.Level == LogLevel.Debug && e.Message.Contains("LOCAL"), "the LOCAL check's DEBUG line", Bound);
        using (Socket check = await TcpApp.Connect(port))
            check.Shutdown(SocketShutdown.Both); // a plain TCP check: connect and close
        await app.Log.WaitForEntry(e => e.Level == LogLevel.Debug && e.Message.Contains("closed before any byte"), "the TCP check's DEBUG line", Bound);
        using Socket socket = await SendAndEcho(port, V2(0, 0x11, new byte[12]), byteByByte: false);
        await Assert.That(await app.Log.WaitFor("accepted ")).IsEqualTo($"accepted {Local(socket)} {Local(socket)}");
        await Assert.That(app.Log.MessagesStartingWith("accepted ").Count).IsEqualTo(1);
        await Assert.That(app.Log.Entries.Where(e => e.Level <= LogLevel.Warn && e.Message.Contains("PROXY protocol")).Select(e => e.Message)).IsEmpty();
    }

    [Test]
    [Arguments("GET / HTTP/1.1\r\nHost: x\r\n\r\n", "not a PROXY protocol header")]
    [Arguments("PROXY TCP4 192.0.2.1 198.51.100.2 99999 443\r\n", "malformed v1 header")]
    [Arguments("PROXY TCP6 11111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111", "longer than 107 bytes")]
    public async Task Malformed_IsClosedAndLogged_TheScriptNeverSeesIt(string sent, string reason)
    {
        var (app, port) = await Server();
        await using TcpApp _ = app;
        using Socket socket = await TcpApp.Connect(port);
        await socket.SendAsync(Encoding.ASCII.GetBytes(sent));
        await Assert.That(await ClosedByServer(socket)).IsTrue();
        LogEntry warning = await app.Log.WaitForEntry(e => e.Level == LogLevel.Warn && e.Message.Contains("PROXY protocol: "), "the warning", Bound);
        await Assert.That(warning.Message).Contains(reason);
        await Assert.That(warning.Message).Contains($"(client {Local(socket)})");
        await Assert.That(app.Log.MessagesStartingWith("accepted ")).IsEmpty();
    }

    /// <summary>A connection closed at its accept (a source not trusted here; a health
    /// check's reset) is pooled as any other (docs/architecture.md, "Connection pooling"). Its
    /// client shared the direct-write gate after that close: the gate lives in the client's
    /// userdata block, which goes with the client, and a pooled connection that kept it would
    /// write into that freed block on its next use (its own close at accept, a TLS accept's
    /// UseTls).</summary>
    [Test]
    public async Task ClosedAtAccept_IsPooledWithoutItsClientsGate()
    {
        var (app, port) = await Server("{\"10.0.0.0/8\"}");
        await using TcpApp _ = app;
        using (Socket socket = await TcpApp.Connect(port))
            await Assert.That(await ClosedByServer(socket)).IsTrue();
        await app.Log.WaitForEntry(e => e.Message.Contains("is not a trusted source"), "the warning", Bound);

        (int spare, int withGate) = await app.Harness.OnLoop(() => SpareGates(app.Harness.Net.SpareConnections));

        await Assert.That(spare).IsGreaterThanOrEqualTo(1);
        await Assert.That(withGate).IsEqualTo(0);
    }

    /// <summary>How many connections are spare, and how many of them still hold a gate.</summary>
    private static unsafe (int, int) SpareGates(MonaAot.Collections.Pool<MonaAot.Net.TcpConnection> pool)
    {
        var field = typeof(MonaAot.Net.TcpConnection).GetField("_gate", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!;
        var taken = new System.Collections.Generic.List<MonaAot.Net.TcpConnection>();
        while (pool.Take() is { } connection)
            taken.Add(connection);
        int withGate = taken.Count(c => System.Reflection.Pointer.Unbox(field.GetValue(c)!) != null);
        foreach (MonaAot.Net.TcpConnection connection in taken)
            pool.Return(connection);
        return (taken.Count, withGate);
    }

    [Test]
    public async Task AFloodOfBadHeaders_IsLoggedAtMostTenTimesASecond()
    {
        var (app, port) = await Server();
        await using TcpApp _ = app;
        var started = DateTime.UtcNow;
        for (int i = 0; i < 40; i++)
        {
            using Socket socket = await TcpApp.Connect(port);
            await socket.SendAsync("garbage\r\n"u8.ToArray());
            await Assert.That(await ClosedByServer(socket)).IsTrue();
        }
        int seconds = (int)Math.Ceiling((DateTime.UtcNow - started).TotalSeconds) + 1; // the seconds the burst touched
        int warned = app.Log.Entries.Count(e => e.Level == LogLevel.Warn && e.Message.Contains("not a PROXY protocol header"));
        await Assert.That(warned).IsGreaterThanOrEqualTo(10);
        await Assert.That(warned).IsLessThanOrEqualTo(Math.Min(40, 10 * seconds));
        await Assert.That(warned).IsLessThan(40);
    }

    [Test]
    public async Task NoHeaderInTime_IsClosedAndLogged()
    {
        var (app, port) = await Server(ini: "[tls]\nhandshakeTimeout = 1\n");
        await using TcpApp _ = app;
        using Socket socket = await TcpApp.Connect(port);
        await socket.SendAsync("PROXY TCP4"u8.ToArray());
        await Assert.That(await ClosedByServer(socket)).IsTrue();
        LogEntry warning = await app.Log.WaitForEntry(e => e.Level == LogLevel.Warn && e.Message.Contains("PROXY protocol: "), "the warning", Bound);
        await Assert.That(warning.Message).Contains("no header within 1 s ([tls] handshakeTimeout)");
    }

    [Test]
    public async Task UntrustedSource_IsClosedAndLogged()
    {
        var (app, port) = await Server("{\"10.0.0.0/8\", \"::1\"}");
        await using TcpApp _ = app;
        using Socket socket = await TcpApp.Connect(port);
        await socket.SendAsync(Encoding.ASCII.GetBytes("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nhello"));
        await Assert.That(await ClosedByServer(socket)).IsTrue();
        LogEntry warning = await app.Log.WaitForEntry(e => e.Level == LogLevel.Warn && e.Message.Contains("PROXY protocol: "), "the warning", Bound);
        await Assert.That(warning.Message).Contains($"{Local(socket)} is not a trusted source");
        await Assert.That(app.Log.MessagesStartingWith("accepted ")).IsEmpty();
    }

    [Test]
    public async Task TrueWarnsOnceAtStart_AndAWrongSettingIsALuaError()
    {
        var (app, port) = await Server();
        await using TcpApp _ = app;
        await Assert.That(app.Log.Entries.Count(e => e.Level == LogLevel.Warn && e.Message.Contains("proxyProtocol = true"))).IsEqualTo(1);
        await app.Run("""
            local ok, e = pcall(function() server.proxyProtocol = false end) NOTE("after start ", e)
            local s = mona:createTCPServer()
            ok, e = pcall(function() s.proxyProtocol = {"10.0.0.0/33"} end) NOTE("bad range ", e)
            ok, e = pcall(function() s.proxyProtocol = {1} end) NOTE("not a string ", e)
            ok, e = pcall(function() s.proxyProtocol = "yes" end) NOTE("a string ", e)
            s.proxyProtocol = {"127.0.0.1"}
            NOTE("set ", tostring(s.proxyProtocol), " ", tostring(server.proxyProtocol), " ", tostring(mona:createTCPServer().proxyProtocol))
            """);
        await Assert.That(await app.Log.WaitFor("after start ")).Contains("proxyProtocol must be set before start");
        await Assert.That(await app.Log.WaitFor("bad range ")).Contains("'10.0.0.0/33' is not an address or a CIDR range");
        await Assert.That(await app.Log.WaitFor("not a string ")).Contains("entry 1 is not a string");
        await Assert.That(await app.Log.WaitFor("a string ")).Contains("true, false or a list of trusted addresses expected, got string");
        await Assert.That(await app.Log.WaitFor("set ")).IsEqualTo("set true true false");
    }

    [Test]
    public async Task PausedInClientHandler_TheBytesBehindTheHeaderWaitForResume()
    {
        await using TcpApp app = await TcpApp.Start("""
            server = mona:createTCPServer()
            server.proxyProtocol = {"127.0.0.1"}
            function server:clientHandler(client)
              held = client
              client:pause()
              function client:onReception(data) NOTE("got ", data) end
              NOTE("accepted ", client.peerAddress)
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """);
        int port = await app.Log.WaitForNumber("port ");
        using Socket socket = await TcpApp.Connect(port);
        await socket.SendAsync(Encoding.ASCII.GetBytes("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nhello"));
        await Assert.That(await app.Log.WaitFor("accepted ")).IsEqualTo("accepted 192.0.2.1:56324");
        await app.Run("NOTE('before resume ', tostring(held.paused)) held:resume()");
        await Assert.That(await app.Log.WaitFor("got ")).IsEqualTo("got hello");
        int before = app.Log.Messages.IndexOf("before resume true");
        await Assert.That(before).IsGreaterThanOrEqualTo(0);
        await Assert.That(app.Log.Messages.IndexOf("got hello")).IsGreaterThan(before);
    }

    [Test]
    public async Task WithoutProxyProtocol_ProxyAddressIsNil()
    {
        await using TcpApp app = await TcpApp.Start("""
            server = mona:createTCPServer()
            function server:clientHandler(client) NOTE("accepted ", client.peerAddress, " ", tostring(client.proxyAddress)) end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """);
        int port = await app.Log.WaitForNumber("port ");
        using Socket socket = await TcpApp.Connect(port);
        await Assert.That(await app.Log.WaitFor("accepted ")).IsEqualTo($"accepted {Local(socket)} nil");
    }

    /// <summary>PROXY connections are pooled (docs/architecture.md, "Connection pooling"): a
    /// connection object that served a header naming a client serves the next accept with
    /// nothing of it left (a LOCAL header then keeps the socket's own peer), and its header
    /// buffer and timeout timer, kept across reuse, still serve a header in pieces and a header
    /// that never comes.</summary>
    [Test]
    public async Task ReusedConnections_KeepNothingOfTheirPreviousHeader()
    {
        await using TcpApp app = await TcpApp.Start("""
            n = 0
            server = mona:createTCPServer()
            server.proxyProtocol = {"127.0.0.0/8"}
            function server:clientHandler(client)
              n = n + 1
              local number = n
              NOTE("accepted ", number, " ", client.peerAddress, " ", tostring(client.proxyAddress))
              function client:onReception(data) self:send(data) end
              function client:onDisconnection() NOTE("gone ", number) end
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """, "[tls]\nhandshakeTimeout = 1\n");
        int port = await app.Log.WaitForNumber("port ");
        using (Socket first = await SendAndEcho(port, Encoding.ASCII.GetBytes("PROXY TCP4 192.0.2.1 198.51.100.2 40000 443\r\n"), byteByByte: false))
        {
            await Assert.That(await app.Log.WaitFor("accepted 1 ")).IsEqualTo($"accepted 1 192.0.2.1:40000 {Local(first)}");
            first.Shutdown(SocketShutdown.Send);
            await app.Log.WaitFor("gone 1");
        }
        // The report was delivered and the client let go of it: the object is spare now.
        int spare = await app.Harness.OnLoop(() => app.Harness.Net.SpareConnections.Count);
        await Assert.That(spare).IsGreaterThanOrEqualTo(1);

        using Socket second = await SendAndEcho(port, V2(0, 0x11, new byte[12]), byteByByte: false);
        await Assert.That(await app.Log.WaitFor("accepted 2 ")).IsEqualTo($"accepted 2 {Local(second)} {Local(second)}");
        await Assert.That(await app.Harness.OnLoop(() => app.Harness.Net.SpareConnections.Count)).IsEqualTo(spare - 1);

        using (Socket silent = await TcpApp.Connect(port))
        {
            await silent.SendAsync("PROXY TCP4"u8.ToArray());
            await Assert.That(await ClosedByServer(silent)).IsTrue();
        }
        LogEntry warning = await app.Log.WaitForEntry(e => e.Level == LogLevel.Warn && e.Message.Contains("PROXY protocol: "), "the warning", Bound);
        await Assert.That(warning.Message).Contains("no header within 1 s ([tls] handshakeTimeout)");

        using Socket third = await SendAndEcho(port, V2Inet(IPAddress.Parse("2001:db8::7"), 5000, IPAddress.IPv6Loopback, 443), byteByByte: true);
        await Assert.That(await app.Log.WaitFor("accepted 3 ")).IsEqualTo($"accepted 3 [2001:db8::7]:5000 {Local(third)}");
        await Assert.That(await app.StopAndCountOpenSockets()).IsEqualTo(0);
    }
}
