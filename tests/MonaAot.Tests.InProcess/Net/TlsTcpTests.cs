using System;
using System.IO;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Threading;
using System.Threading.Tasks;
using MonaAot.Diagnostics;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Net;

/// <summary>
/// TLS on TCPClient and TCPServer (docs/api.md, "TLS") in-process: the real reactor, Lua and
/// the TLS engine, with .NET's SslStream (OpenSSL on Linux, Schannel on Windows) as the peer where one is needed, and
/// certificates made with the openssl command (<see cref="TestCertificates"/>).
/// </summary>
public class TlsTcpTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private static readonly SemaphoreSlim CertificatesGate = new(1, 1);
    private static TestCertificates? _certificates;

    private static async Task<TestCertificates> Certificates()
    {
        await CertificatesGate.WaitAsync();
        try
        {
            return _certificates ??= await TestCertificates.Make();
        }
        finally
        {
            CertificatesGate.Release();
        }
    }

    /// <summary>Every case here has a TLS server in the process (a session or a script's
    /// server, or .NET's SslStream, which is Schannel too on Windows): Wine cannot run one
    /// (docs/api.md, "TLS"). The client cases that Wine can run are in TlsClientTests.</summary>
    [Before(Test)]
    public void NeedsATlsServerInProcess() => Skip.When(Wine.IsRunning, WineTls.NoServer);

    [After(Class)]
    public static void RemoveCertificates()
    {
        if (_certificates != null)
            Directory.Delete(_certificates.Folder, recursive: true);
        _certificates = null;
    }

    /// <summary>A test-side TLS server: accepts one connection and echoes until the peer's end;
    /// returns how many bytes it echoed and whether the end was a clean TLS close.</summary>
    private static async Task<long> SslEchoOnce(Socket listener, string certificate, string key, Action<SslStream>? onAuthenticated = null)
    {
        using X509Certificate2 cert = X509Certificate2.CreateFromPemFile(certificate, key);
        using Socket socket = await listener.AcceptAsync();
        await using var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false));
        await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = cert });
        onAuthenticated?.Invoke(ssl);
        var buffer = new byte[65536];
        long total = 0;
        int n;
        while ((n = await ssl.ReadAsync(buffer)) > 0)
        {
            total += n;
            await ssl.WriteAsync(buffer.AsMemory(0, n));
        }
        return total;
    }

    /// <summary>A test-side TLS client of a script's server (its certificate checked against the
    /// test CA).</summary>
    private static async Task<SslStream> SslConnect(int port, string caFile, string? alpn = null)
    {
        Socket socket = await TcpApp.Connect(port);
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true));
        using X509Certificate2 ca = X509CertificateLoader.LoadCertificateFromFile(caFile);
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            {
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(X509CertificateLoader.LoadCertificate(ca.RawData));
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return certificate != null && chain.Build(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
            },
        };
        if (alpn != null)
            options.ApplicationProtocols = [new SslApplicationProtocol(alpn)];
        await ssl.AuthenticateAsClientAsync(options).WaitAsync(Bound);
        return ssl;
    }

    private static async Task<byte[]> ReadExactly(Stream stream, int count)
    {
        var buffer = new byte[count];
        await stream.ReadExactlyAsync(buffer).AsTask().WaitAsync(Bound);
        return buffer;
    }

    [Test]
    public async Task Client_ToSslStreamServer_SendsBeforeConnectAfterTheHandshake_AndSeesTheSession()
    {
        TestCertificates certs = await Certificates();
        using Socket listener = TcpApp.Listen(out int port);
        Task<long> peer = SslEchoOnce(listener, certs.ServerCert, certs.ServerKey);
        await using TcpApp app = await TcpApp.Start($$"""
            client = mona:createTCPClient({ca = [[{{certs.CaCert}}]]})
            function client:onReception(data)
              NOTE("got ", data, " ", self.tlsVersion, " ", tostring(self.secure), " ", self.peerCertificate, " ", tostring(self.alpn))
              self:disconnect()
            end
            function client:onDisconnection() NOTE("ended ", tostring(self.error)) end
            function client:onFlush() NOTE("flushed ", self.queueing, " ", tostring(self.connected)) end
            NOTE("before ", tostring(client.secure), " ", tostring(client.tlsVersion))
            assert(client:connect("localhost", {{port}}) == nil)
            client:send("hello")
            NOTE("connected at once ", tostring(client.connected), " queueing ", client.queueing, " ", tostring(client.address), " ", tostring(client.tlsVersion))
            """);
        await Assert.That(await app.Log.WaitFor("before ")).IsEqualTo("before true nil");
        await Assert.That(await app.Log.WaitFor("connected at once ")).IsEqualTo("connected at once false queueing 5 nil nil");
        await Assert.That(await app.Log.WaitFor("got ")).IsEqualTo("got hello TLSv1.3 true /CN=localhost nil");
        await Assert.That(await app.Log.WaitFor("ended ")).IsEqualTo("ended nil");
        await Assert.That(await peer.WaitAsync(Bound)).IsEqualTo(5);
        await Assert.That(app.Log.MessagesStartingWith("flushed ")).IsEquivalentTo(new[] { "flushed 0 true" });
    }

    [Test]
    public async Task Server_WithSslStreamClient_HandsOverAfterTheHandshake_AndEchoes()
    {
        TestCertificates certs = await Certificates();
        await using TcpApp app = await TcpApp.Start($$"""
            server = mona:createTCPServer({certificate = [[{{certs.ServerCert}}]], key = [[{{certs.ServerKey}}]]})
            function server:clientHandler(client)
              NOTE("accepted ", tostring(client.connected), " ", tostring(client.secure), " ", client.tlsVersion, " ", tostring(client.peerCertificate))
              function client:onReception(data) self:send(data) end
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """);
        int port = await app.Log.WaitForNumber("port ");
        await using SslStream ssl = await SslConnect(port, certs.CaCert);
        await ssl.WriteAsync("ping"u8.ToArray());
        await Assert.That(System.Text.Encoding.ASCII.GetString(await ReadExactly(ssl, 4))).IsEqualTo("ping");
        await Assert.That(await app.Log.WaitFor("accepted ")).IsEqualTo("accepted true true TLSv1.3 nil");
    }

    [Test]
    public async Task Echo_4MiB_BothWays_ByteForByte()
    {
        TestCertificates certs = await Certificates();
        using Socket listener = TcpApp.Listen(out int port);
        Task<long> peer = SslEchoOnce(listener, certs.ServerCert, certs.ServerKey);
        await using TcpApp app = await TcpApp.Start($$"""
            -- A script client through a test-side echo: 4 MiB out and back, compared in Lua.
            local payload = {}
            for i = 1, 262144 do payload[i] = string.pack("<I4", i * 2654435761 % 4294967296) .. "0123456789ab" end
            payload = table.concat(payload)
            local parts, length = {}, 0
            client = mona:createTCPClient({ca = [[{{certs.CaCert}}]]})
            function client:onReception(data)
              parts[#parts + 1] = data
              length = length + #data
              if length >= #payload then
                NOTE("client same ", tostring(table.concat(parts) == payload), " ", length)
                self:disconnect()
              end
            end
            client:connect("127.0.0.1", {{port}})
            client:send(payload)

            -- A script server echoing what a test-side client sends.
            server = mona:createTCPServer({certificate = [[{{certs.ServerCert}}]], key = [[{{certs.ServerKey}}]]})
            function server:clientHandler(c) function c:onReception(data) self:send(data) end end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """);
        await Assert.That(await app.Log.WaitFor("client same ", Bound)).IsEqualTo($"client same true {4 << 20}");
        await Assert.That(await peer.WaitAsync(Bound)).IsEqualTo(4 << 20);

        int serverPort = await app.Log.WaitForNumber("port ");
        await using SslStream ssl = await SslConnect(serverPort, certs.CaCert);
        var data = new byte[4 << 20];
        new Random(7).NextBytes(data);
        Task<byte[]> reading = ReadExactly(ssl, data.Length);
        await ssl.WriteAsync(data).AsTask().WaitAsync(Bound);
        await Assert.That((await reading).AsSpan().SequenceEqual(data)).IsTrue();
    }

    /// <summary>A script server with <paramref name="serverOptions"/> and a script client with
    /// <paramref name="clientOptions"/> connecting to 127.0.0.1 or <paramref name="host"/>:
    /// what the client's onDisconnection saw, or "ok alpn" once connected.</summary>
    private static async Task<(string Client, TcpApp App)> Pair(string serverOptions, string clientOptions, string host = "127.0.0.1", string ini = "")
    {
        TcpApp app = await TcpApp.Start($$"""
            server = mona:createTCPServer({{serverOptions}})
            function server:clientHandler(c)
              NOTE("handler ", tostring(c.alpn))
              function c:onReception(data) self:send(data) end
            end
            assert(server:start("127.0.0.1", 0))
            client = mona:createTCPClient({{clientOptions}})
            function client:onReception(data) NOTE("client ok ", tostring(self.alpn)) self:disconnect() end
            function client:onDisconnection() if self.error then NOTE("client ", self.error) end end
            client:connect("{{host}}", server.port)
            client:send("x")
            """, ini);
        return (await app.Log.WaitFor("client ", Bound), app);
    }

    [Test]
    public async Task Client_HandshakeFailures_NameTheCause()
    {
        TestCertificates certs = await Certificates();
        string ca = $"[[{certs.CaCert}]]";
        (string untrusted, TcpApp a) = await Pair($"{{certificate = [[{certs.SelfSignedCert}]], key = [[{certs.SelfSignedKey}]]}}", $"{{ca = {ca}}}", "localhost");
        await a.DisposeAsync();
        await Assert.That(untrusted).StartsWith("client TLS handshake failed: certificate not trusted");

        (string wrongName, TcpApp b) = await Pair($"{{certificate = [[{certs.ServerCert}]], key = [[{certs.ServerKey}]]}}", $"{{ca = {ca}, serverName = 'example.com'}}");
        await b.DisposeAsync();
        await Assert.That(wrongName).StartsWith("client TLS handshake failed: name mismatch");

        (string expired, TcpApp c) = await Pair($"{{certificate = [[{certs.ExpiredCert}]], key = [[{certs.ServerKey}]]}}", $"{{ca = {ca}}}");
        await c.DisposeAsync();
        await Assert.That(expired).IsEqualTo("client TLS handshake failed: certificate expired");
    }

    [Test]
    public async Task Client_VerifyFalse_AcceptsAnUntrustedServer()
    {
        TestCertificates certs = await Certificates();
        (string outcome, TcpApp app) = await Pair($"{{certificate = [[{certs.SelfSignedCert}]], key = [[{certs.SelfSignedKey}]]}}", "{verify = false}");
        await using TcpApp _ = app;
        await Assert.That(outcome).IsEqualTo("client ok nil");
    }

    [Test]
    public async Task Alpn_IsNegotiated_AndVisibleOnBothSides()
    {
        TestCertificates certs = await Certificates();
        (string outcome, TcpApp app) = await Pair(
            $"{{certificate = [[{certs.ServerCert}]], key = [[{certs.ServerKey}]], alpn = {{'h2', 'mqtt'}}}}",
            $"{{ca = [[{certs.CaCert}]], alpn = {{'mqtt'}}}}");
        await using TcpApp _ = app;
        await Assert.That(outcome).IsEqualTo("client ok mqtt");
        await Assert.That(await app.Log.WaitFor("handler ")).IsEqualTo("handler mqtt");
    }

    [Test]
    public async Task Server_HandshakeFailure_IsLoggedAtWarn_AndNeverReachesTheScript()
    {
        TestCertificates certs = await Certificates();
        await using TcpApp app = await TcpApp.Start($$"""
            server = mona:createTCPServer({certificate = [[{{certs.ServerCert}}]], key = [[{{certs.ServerKey}}]]})
            function server:clientHandler(c) NOTE("handler") end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """);
        int port = await app.Log.WaitForNumber("port ");
        using (Socket plain = await TcpApp.Connect(port))
        {
            await plain.SendAsync("GET / HTTP/1.0\r\n\r\n"u8.ToArray(), SocketFlags.None);
            var warning = await app.Log.WaitForEntry(e => e.Level == LogLevel.Warn && e.Message.Contains("TLS handshake failed"), "the server's warning", Bound);
            await Assert.That(warning.Message).Contains("protocol error");
        }
        // A good client after it reaches the handler: the first one never did.
        await using SslStream ssl = await SslConnect(port, certs.CaCert);
        await app.Log.WaitFor("handler", Bound);
        await Assert.That(app.Log.MessagesStartingWith("handler").Count).IsEqualTo(1);
    }

    [Test]
    public async Task Disconnect_DeliversTheQueue_ThenACleanTlsClose()
    {
        TestCertificates certs = await Certificates();
        using Socket listener = TcpApp.Listen(out int port);
        var received = new MemoryStream();
        Task<bool> peer = Task.Run(async () =>
        {
            using X509Certificate2 cert = X509Certificate2.CreateFromPemFile(certs.ServerCert, certs.ServerKey);
            using Socket socket = await listener.AcceptAsync();
            await using var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false));
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = cert });
            var buffer = new byte[65536];
            int n;
            while ((n = await ssl.ReadAsync(buffer)) > 0)
                received.Write(buffer, 0, n);
            // SslStream reads 0 at close_notify; a FIN without one would leave the socket's
            // next read at 0 too, so the close_notify is seen in what came: nothing after it.
            return socket.Available == 0;
        });
        await using TcpApp app = await TcpApp.Start($$"""
            client = mona:createTCPClient({ca = [[{{certs.CaCert}}]]})
            function client:onDisconnection() NOTE("ended ", tostring(self.error)) end
            client:connect("localhost", {{port}})
            client:send(string.rep("z", 3 * 1024 * 1024))
            client:disconnect()
            NOTE("after disconnect ", tostring(client.connected))
            """);
        await Assert.That(await app.Log.WaitFor("after disconnect ")).IsEqualTo("after disconnect false");
        await Assert.That(await peer.WaitAsync(Bound)).IsTrue();
        await Assert.That(received.Length).IsEqualTo(3 * 1024 * 1024);
        await Assert.That(await app.Log.WaitFor("ended ", Bound)).IsEqualTo("ended nil");
    }

    [Test]
    public async Task StalledHandshake_TimesOut_WhileAPlainEchoBesideKeepsWorking()
    {
        TestCertificates certs = await Certificates();
        using Socket listener = TcpApp.Listen(out int stallPort); // accepts, never answers
        await using TcpApp app = await TcpApp.Start($$"""
            echo = mona:createTCPServer()
            function echo:clientHandler(c) function c:onReception(data) self:send(data) end end
            assert(echo:start("127.0.0.1", 0))
            NOTE("port ", echo.port)
            client = mona:createTCPClient({ca = [[{{certs.CaCert}}]]})
            function client:onDisconnection() NOTE("ended ", tostring(self.error)) end
            client:connect("localhost", {{stallPort}})
            secure = mona:createTCPServer({certificate = [[{{certs.ServerCert}}]], key = [[{{certs.ServerKey}}]]})
            function secure:clientHandler(c) NOTE("handler") end
            assert(secure:start("127.0.0.1", 0))
            NOTE("secure port ", secure.port)
            """, "[tls]\nhandshakeTimeout = 1\n");
        // A client that connects to the TLS server and says nothing: the server's side of it.
        using Socket silent = await TcpApp.Connect(await app.Log.WaitForNumber("secure port "));
        int port = await app.Log.WaitForNumber("port ");
        using Socket stalled = await listener.AcceptAsync().WaitAsync(Bound);
        using (Socket plain = await TcpApp.Connect(port))
        {
            await plain.SendAsync("still here"u8.ToArray(), SocketFlags.None);
            await Assert.That(System.Text.Encoding.ASCII.GetString(await TcpApp.ReadExactly(plain, 10))).IsEqualTo("still here");
        }
        await Assert.That(await app.Log.WaitFor("ended ", Bound))
            .IsEqualTo("ended TLS handshake failed: timed out after 1 s ([tls] handshakeTimeout)");
        var warning = await app.Log.WaitForEntry(e => e.Level == LogLevel.Warn && e.Message.Contains("timed out"), "the server's warning", Bound);
        await Assert.That(warning.Message).Contains("TLS handshake failed: timed out after 1 s ([tls] handshakeTimeout) (client 127.0.0.1:");
        await Assert.That(app.Log.MessagesStartingWith("handler")).IsEmpty();
    }

    /// <summary>An accepted TLS connection is reused once closed (docs/architecture.md,
    /// "Connection pooling"): the next one on the same connection object shakes hands anew, and
    /// its handshake timer (made once, armed per handshake) still bounds a silent client.</summary>
    [Test]
    public async Task ReusedTlsConnection_ShakesHandsAnew_AndItsHandshakeStillTimesOut()
    {
        TestCertificates certs = await Certificates();
        await using TcpApp app = await TcpApp.Start($$"""
            secure = mona:createTCPServer({certificate = [[{{certs.ServerCert}}]], key = [[{{certs.ServerKey}}]]})
            function secure:clientHandler(c)
              NOTE("handler ", c.tlsVersion)
              function c:onReception(data) self:send(data) end
              function c:onDisconnection() NOTE("gone") end
            end
            assert(secure:start("127.0.0.1", 0))
            NOTE("port ", secure.port)
            """, "[tls]\nhandshakeTimeout = 1\n");
        int port = await app.Log.WaitForNumber("port ");
        for (int round = 1; round <= 2; round++)
        {
            await using (SslStream ssl = await SslConnect(port, certs.CaCert))
            {
                await ssl.WriteAsync("ping"u8.ToArray());
                var echo = new byte[4];
                await ssl.ReadExactlyAsync(echo).AsTask().WaitAsync(Bound);
                await Assert.That(System.Text.Encoding.ASCII.GetString(echo)).IsEqualTo("ping");
            }
            int gone = round;
            await app.Log.WaitForEntry(_ => app.Log.MessagesStartingWith("gone").Count == gone, $"gone {round}", Bound);
            // What a silent client meets on the connection object the last one left.
            using Socket silent = await TcpApp.Connect(port);
            await app.Log.WaitForEntry(_ => app.Log.Entries.FindAll(w => w.Message.Contains("timed out")).Count == gone, $"timeout {round}", Bound);
        }
        var handlers = app.Log.MessagesStartingWith("handler TLSv1.");
        await Assert.That(handlers.Count).IsEqualTo(2);
        var timeouts = app.Log.Entries.FindAll(e => e.Message.Contains("timed out"));
        await Assert.That(timeouts.Count).IsEqualTo(2);
        await Assert.That(timeouts[1].Level).IsEqualTo(LogLevel.Warn);
        await Assert.That(timeouts[1].Message).Contains("(client 127.0.0.1:");
    }

    [Test]
    [Arguments("{verify = 'yes'}", "bad argument #1 to 'createTCPClient' (TLS option 'verify': boolean expected, got string)")]
    [Arguments("{colour = 1}", "bad argument #1 to 'createTCPClient' (unknown TLS option 'colour')")]
    [Arguments("{alpn = 'h2'}", "bad argument #1 to 'createTCPClient' (TLS option 'alpn': table expected, got string)")]
    [Arguments("'yes'", "bad argument #1 to 'createTCPClient' (boolean or table expected, got string)")]
    [Arguments("{ca = '/nonexistent/ca.pem'}", "bad argument #1 to 'createTCPClient' (TLS CA file not found: /nonexistent/ca.pem)")]
    public async Task BadClientOptions_RaiseAtCreation(string options, string expected)
    {
        string result = await TcpApp.ResultOf("", $"return mona:createTCPClient({options})");
        await Assert.That(result).EndsWith(expected);
    }

    /// <summary>An accepted TLS client can connect again, as any accepted client can (SPEC 2),
    /// and that connection is a plain one: the server's context is not a client's.</summary>
    [Test]
    public async Task AcceptedTlsClient_ConnectsAgain_AsAPlainClient()
    {
        TestCertificates certs = await Certificates();
        await using TcpApp app = await TcpApp.Start($$"""
            plain = mona:createTCPServer()
            function plain:onConnection(client) NOTE("plain accepted") end
            assert(plain:start("127.0.0.1", 0))
            server = mona:createTCPServer({certificate = [[{{certs.ServerCert}}]], key = [[{{certs.ServerKey}}]]})
            function server:clientHandler(client)
              kept = client
              function client:onDisconnection()
                local ok, err = pcall(self.connect, self, "127.0.0.1", plain.port)
                NOTE("reconnect ", tostring(ok), " ", tostring(err), " ", tostring(self.secure))
              end
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """);
        int port = await app.Log.WaitForNumber("port ");
        SslStream ssl = await SslConnect(port, certs.CaCert);
        await ssl.DisposeAsync();
        await Assert.That(await app.Log.WaitFor("reconnect ")).StartsWith("reconnect true ");
        await Assert.That(app.Log.MessagesStartingWith("reconnect ")[0]).EndsWith(" false");
        await app.Log.WaitFor("plain accepted");
    }

    [Test]
    public async Task BadServerOptions_RaiseAtCreation()
    {
        TestCertificates certs = await Certificates();
        string mismatch = await TcpApp.ResultOf("", $"return mona:createTCPServer({{certificate = [[{certs.ServerCert}]], key = [[{certs.SelfSignedKey}]]}})");
        await Assert.That(mismatch).Contains("key values mismatch");
        string noKey = await TcpApp.ResultOf("", $"return mona:createTCPServer({{certificate = [[{certs.ServerCert}]]}})");
        await Assert.That(noKey).EndsWith("(TLS: a server needs a certificate and a key)");
        string noConfig = await TcpApp.ResultOf("", "return mona:createTCPServer(true)");
        await Assert.That(noConfig).EndsWith("(TLS: no [tls] certificate and key in the configuration)");
    }

    [Test]
    public async Task RelativePaths_StartFromTheApplicationsFolder()
    {
        TestCertificates certs = await Certificates();
        await using TcpApp app = await TcpApp.Start("""
            server = mona:createTCPServer({certificate = "tls/server.pem", key = "tls/server.key"})
            assert(server:start("127.0.0.1", 0))
            client = mona:createTCPClient({ca = "tls/ca.pem"})
            function client:onReception(data) NOTE("client ok ", data) end
            function server:clientHandler(c) c:send("hi") end
            client:connect("localhost", server.port)
            """, setup: www =>
        {
            string folder = Path.Combine(www, "tls");
            Directory.CreateDirectory(folder);
            File.Copy(certs.ServerCert, Path.Combine(folder, "server.pem"));
            File.Copy(certs.ServerKey, Path.Combine(folder, "server.key"));
            File.Copy(certs.CaCert, Path.Combine(folder, "ca.pem"));
        });
        await Assert.That(await app.Log.WaitFor("client ok ", Bound)).IsEqualTo("client ok hi");
    }

    [Test]
    public async Task PauseInsideOnReception_ResumeLater_EveryByteArrives()
    {
        TestCertificates certs = await Certificates();
        await using TcpApp app = await TcpApp.Start($$"""
            server = mona:createTCPServer({certificate = [[{{certs.ServerCert}}]], key = [[{{certs.ServerKey}}]]})
            local total = 0
            function server:clientHandler(c)
              function c:onReception(data)
                total = total + #data
                if total >= 1048576 then NOTE("all ", total, " ", tostring(self.paused)) self:send("done") return end
                -- What the session decrypted and still holds must come after resume.
                self:pause()
                mona:setTimer(function() self:resume() end, 5)
              end
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """);
        int port = await app.Log.WaitForNumber("port ");
        await using SslStream ssl = await SslConnect(port, certs.CaCert);
        await ssl.WriteAsync(new byte[1 << 20]).AsTask().WaitAsync(Bound);
        await Assert.That(System.Text.Encoding.ASCII.GetString(await ReadExactly(ssl, 4))).IsEqualTo("done");
        await Assert.That(await app.Log.WaitFor("all ")).IsEqualTo("all 1048576 false");
    }

    [Test]
    public async Task RenewedCertificateFiles_AreUsedForNewConnections_BadOnesKeepTheOld()
    {
        TestCertificates certs = await Certificates();
        string folder = "";
        await using TcpApp app = await TcpApp.Start("""
            server = mona:createTCPServer({certificate = "tls/server.pem", key = "tls/server.key"})
            function server:clientHandler(c) c:send("hi") end
            assert(server:start("127.0.0.1", 0))
            local oks = 0
            local function attempt()
              local client = mona:createTCPClient({ca = "tls/ca.pem"})
              function client:onReception() oks = oks + 1 NOTE("attempt ok ", oks) self:disconnect() end
              function client:onDisconnection()
                if self.error then NOTE("attempt failed ", self.error) end
                mona:setTimer(attempt, 50)
              end
              client:connect("localhost", server.port)
            end
            attempt()
            """, setup: www =>
        {
            folder = Path.Combine(www, "tls");
            Directory.CreateDirectory(folder);
            File.Copy(certs.ServerCert, Path.Combine(folder, "server.pem"));
            File.Copy(certs.ServerKey, Path.Combine(folder, "server.key"));
            File.Copy(certs.CaCert, Path.Combine(folder, "ca.pem"));
        });
        await app.Log.WaitFor("attempt ok 1", Bound);

        // Unusable files: a warning, and the old certificate goes on serving.
        string certificate = Path.Combine(folder, "server.pem"), key = Path.Combine(folder, "server.key");
        File.WriteAllText(certificate, "not a certificate");
        File.SetLastWriteTimeUtc(certificate, DateTime.UtcNow.AddSeconds(5));
        await app.Log.WaitForEntry(e => e.Level == LogLevel.Warn && e.Message.Contains("renewed TLS certificate cannot be used"), "the renewal warning", Bound);
        int oks = app.Log.MessagesStartingWith("attempt ok ").Count;
        await app.Log.WaitFor($"attempt ok {oks + 1}", Bound);
        await Assert.That(app.Log.MessagesStartingWith("attempt failed ")).IsEmpty();

        // Usable files: new connections get them (this one is trusted by nobody).
        File.Copy(certs.SelfSignedCert, certificate, overwrite: true);
        File.Copy(certs.SelfSignedKey, key, overwrite: true);
        File.SetLastWriteTimeUtc(certificate, DateTime.UtcNow.AddSeconds(10));
        await Assert.That(await app.Log.WaitFor("attempt failed ", Bound)).StartsWith("attempt failed TLS handshake failed: certificate not trusted");
    }

    [Test]
    public async Task MutualTls_ClientCertificate_IsSeenByTheServer_AndRequired()
    {
        TestCertificates certs = await Certificates();
        string server = $"{{certificate = [[{certs.ServerCert}]], key = [[{certs.ServerKey}]], ca = [[{certs.CaCert}]]}}";
        await using TcpApp app = await TcpApp.Start($$"""
            server = mona:createTCPServer({{server}})
            function server:clientHandler(c)
              NOTE("handler ", tostring(c.peerCertificate))
              function c:onReception(data) self:send(data) end
            end
            assert(server:start("127.0.0.1", 0))
            with = mona:createTCPClient({ca = [[{{certs.CaCert}}]], certificate = [[{{certs.ClientCert}}]], key = [[{{certs.ClientKey}}]]})
            function with:onReception(data) NOTE("with ok ", data, " ", self.peerCertificate) self:disconnect() end
            with:connect("localhost", server.port)
            with:send("x")
            without = mona:createTCPClient({ca = [[{{certs.CaCert}}]]})
            function without:onReception(data) NOTE("without got ", data) end
            function without:onDisconnection() NOTE("without ended ", tostring(self.error)) end
            without:connect("localhost", server.port)
            without:send("y")
            """);
        await Assert.That(await app.Log.WaitFor("with ok ", Bound)).IsEqualTo("with ok x /CN=localhost");
        await Assert.That(await app.Log.WaitFor("handler ", Bound)).IsEqualTo("handler /CN=mona client");
        await Assert.That(await app.Log.WaitFor("without ended ", Bound)).StartsWith("without ended TLS handshake failed: ");
        await Assert.That(app.Log.MessagesStartingWith("without got ")).IsEmpty();
        await Assert.That(app.Log.MessagesStartingWith("handler ").Count).IsEqualTo(1);
    }

    [Test]
    public async Task PeersCloseNotify_IsTheEndOfItsData_AsAFin()
    {
        TestCertificates certs = await Certificates();
        await using TcpApp app = await TcpApp.Start($$"""
            server = mona:createTCPServer({certificate = [[{{certs.ServerCert}}]], key = [[{{certs.ServerKey}}]]})
            function server:clientHandler(c)
              c.allowHalfOpen = true
              local got = {}
              function c:onReception(data) got[#got + 1] = data end
              function c:onEnd() NOTE("end after ", table.concat(got)) self:send("bye") self:disconnect() end
              function c:onDisconnection() NOTE("server side ended ", tostring(self.error)) end
            end
            assert(server:start("127.0.0.1", 0))
            NOTE("port ", server.port)
            """);
        int port = await app.Log.WaitForNumber("port ");
        await using SslStream ssl = await SslConnect(port, certs.CaCert);
        await ssl.WriteAsync("request"u8.ToArray());
        await ssl.ShutdownAsync().WaitAsync(Bound); // close_notify, the TLS half-close
        await Assert.That(await app.Log.WaitFor("end after ", Bound)).IsEqualTo("end after request");
        await Assert.That(System.Text.Encoding.ASCII.GetString(await ReadExactly(ssl, 3))).IsEqualTo("bye");
        await Assert.That(await ssl.ReadAsync(new byte[16]).AsTask().WaitAsync(Bound)).IsEqualTo(0);
        await Assert.That(await app.Log.WaitFor("server side ended ", Bound)).IsEqualTo("server side ended nil");
    }

    [Test]
    public async Task ServerTrue_ServesTheConfiguredCertificate()
    {
        TestCertificates certs = await Certificates();
        await using TcpApp app = await TcpApp.Start($$"""
            server = mona:createTCPServer(true)
            function server:clientHandler(c) c:send("hello") end
            assert(server:start("127.0.0.1", 0))
            client = mona:createTCPClient({ca = [[{{certs.CaCert}}]]})
            function client:onReception(data) NOTE("client got ", data, " ", self.peerCertificate) end
            client:connect("localhost", server.port)
            """, $"[tls]\ncertificate = {certs.ServerCert}\nkey = {certs.ServerKey}\n");
        await Assert.That(await app.Log.WaitFor("client got ", Bound)).IsEqualTo("client got hello /CN=localhost");
    }

    [Test]
    public async Task LargeSend_ToASlowReader_IsHeldAsPlaintext_ThenDeliveredWhole_ThenOnFlush()
    {
        TestCertificates certs = await Certificates();
        using Socket listener = TcpApp.Listen(out int port);
        var reading = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<byte[]> peer = Task.Run(async () =>
        {
            using X509Certificate2 cert = X509Certificate2.CreateFromPemFile(certs.ServerCert, certs.ServerKey);
            using Socket socket = await listener.AcceptAsync();
            await using var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false));
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = cert });
            await reading.Task; // reads only once the script saw its queue
            return await ReadExactly(ssl, 8 << 20);
        });
        await using TcpApp app = await TcpApp.Start($$"""
            local chunk = {}
            for i = 0, 255 do chunk[#chunk + 1] = string.char(i) end
            local payload = string.rep(table.concat(chunk), 32768) -- 8 MiB
            client = mona:createTCPClient({ca = [[{{certs.CaCert}}]]})
            function client:onFlush() NOTE("flushed ", self.queueing) end
            client:connect("localhost", {{port}})
            client:send(payload)
            NOTE("queued ", client.queueing)
            local function look()
              if client.connected then NOTE("connected queueing ", client.queueing) else mona:setTimer(look, 5) end
            end
            look()
            """);
        await Assert.That(await app.Log.WaitFor("queued ")).IsEqualTo($"queued {8 << 20}");
        long queueing = await app.Log.WaitForNumber("connected queueing ", Bound);
        await Assert.That(queueing).IsGreaterThan(0);
        reading.SetResult();
        byte[] received = await peer.WaitAsync(Bound);
        bool same = true;
        for (int i = 0; i < received.Length && same; i++)
            same = received[i] == (byte)i;
        await Assert.That(same).IsTrue();
        await Assert.That(await app.Log.WaitFor("flushed ", Bound)).IsEqualTo("flushed 0");
    }
}
