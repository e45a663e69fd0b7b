using System;
using System.Security.Cryptography;
using System.Threading.Tasks;
using MonaAot.Diagnostics;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Net;

/// <summary>
/// MonaAot's TLS client (docs/api.md, "TLS"; SPEC 10) driven from a script in-process against
/// peers that are not MonaAot and not the platform's own TLS: openssl s_server and Python's ssl
/// module, run as Linux programs (<see cref="TlsPeer"/>), with certificates made by the openssl
/// command. The same cases run on Linux (OpenSSL inside MonaAot) and in the Windows build under
/// Wine (Schannel inside MonaAot): Wine's Schannel has only the client side, so the client is
/// what the Windows engine can be checked on, and the peers stay Linux programs there too.
/// Every wait is for a line or a log entry, bounded.
/// </summary>
// Handshakes cost CPU on a small machine, and under Wine each peer is a launcher and a program.
[NotInParallel(nameof(TlsClientTests))]
public class TlsClientTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private static TestCertificates? s_certificates;

    private static TestCertificates Certs => s_certificates ?? throw new InvalidOperationException("no certificates");

    [Before(Class)]
    public static async Task MakeCertificates() => s_certificates = await TestCertificates.Make();

    [After(Class)]
    public static void RemoveCertificates() => s_certificates?.Dispose();

    /// <summary>What a server that offers TLS 1.3 gets: Wine 8's Schannel knows no version above
    /// TLS 1.2 (its protocol table ends there), so under Wine the same handshake is TLS 1.2.</summary>
    private static readonly string Tls13 = Wine.IsRunning ? "TLSv1.2" : "TLSv1.3";

    /// <summary>A path for the script (the test program's view of it).</summary>
    private static string Lua(string path) => "[[" + path + "]]";

    /// <summary>A path for a peer (a Linux program: the Unix path under Wine).</summary>
    private static string Peer(string path) => Wine.UnixPath(path);

    /// <summary>openssl s_server with a certificate and key of the test set and further options.</summary>
    private static Task<(TlsPeer Server, int Port)> SServer(string certificate, string key, params string[] options)
    {
        string[] all = new string[options.Length + 4];
        all[0] = "-cert";
        all[1] = Peer(certificate);
        all[2] = "-key";
        all[3] = Peer(key);
        options.CopyTo(all, 4);
        return TlsPeer.SServer(all);
    }

    /// <summary>A script client with <paramref name="options"/> that connects to localhost and
    /// says "from-mona"; what it receives is noted with the session's properties, its end with
    /// the error.</summary>
    private static Task<TcpApp> Client(string options, int port) => TcpApp.Start($$"""
        client = mona:createTCPClient({{options}})
        function client:onReception(data)
          NOTE("got ", (data:gsub("\n", "")), " ", tostring(self.connected), " ", tostring(self.secure), " ",
            tostring(self.tlsVersion), " ", tostring(self.peerCertificate), " ", tostring(self.alpn))
        end
        function client:onDisconnection() NOTE("ended ", tostring(self.error)) end
        client:connect("localhost", {{port}})
        client:send("from-mona\n")
        """);

    /// <summary>The script's note starting with <paramref name="prefix"/>, or the error the
    /// script raised: a client that cannot be made (the Windows build's stand-in raises at
    /// creation) ends the wait at once, and the assertion shows its message.</summary>
    private static async Task<string> Note(TcpApp app, string prefix) =>
        (await app.Log.WaitForEntry(e => e.Message.StartsWith(prefix, StringComparison.Ordinal) || e.Level is > LogLevel.None and <= LogLevel.Error,
            $"'{prefix}...' or a script error", Bound)).Message;

    /// <summary>The exchange both ways with an s_server: it prints what the client sent, the test
    /// makes it answer, the script notes the answer. A client that ends first (refused, or not
    /// made) is the result instead.</summary>
    private static async Task<string> Exchange(TlsPeer server, TcpApp app)
    {
        Task<string> sent = server.WaitForLine("from-mona", Bound);
        Task<string> ended = Note(app, "ended ");
        if (await Task.WhenAny(sent, ended) == ended && !sent.IsCompleted)
        {
            _ = sent.ContinueWith(t => t.Exception, TaskScheduler.Default); // its timeout, later, is no news
            return await ended;
        }
        _ = ended.ContinueWith(t => t.Exception, TaskScheduler.Default);
        await sent;
        server.WriteLine("from-openssl");
        return await Note(app, "got ");
    }

    /// <summary>A python TLS client: checks the server against the CA, prints "subject CN
    /// VERSION", sends "from-python", prints "got" and the answer's line.</summary>
    private const string PyClient = """
        import socket, ssl, sys
        port, ca = int(sys.argv[1]), sys.argv[2]
        ctx = ssl.create_default_context(cafile=ca)
        s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', port), timeout=30), server_hostname='localhost')
        print('subject', dict(x[0] for x in s.getpeercert()['subject'])['commonName'], s.version(), flush=True)
        s.sendall(b'from-python\n')
        answer = b''
        while not answer.endswith(b'\n'):
            chunk = s.recv(100)
            if not chunk:
                break
            answer += chunk
        print('got', answer.decode().strip(), flush=True)
        """;

    /// <summary>The fixture without MonaAot's TLS: the certificates, the Linux programs, their
    /// lines, input and exit codes work wherever this class runs (under Wine too), so that a
    /// failure of the other cases is MonaAot's.</summary>
    [Test]
    public async Task Peers_WithoutMonaAot_TheCertificatesAndProgramsWork()
    {
        var (server, port) = await SServer(Certs.ServerCert, Certs.ServerKey);
        await using (server)
        {
            await using TlsPeer client = TlsPeer.Python(PyClient, port.ToString(), Peer(Certs.CaCert));
            await Assert.That(await client.WaitForLine("subject ", Bound)).IsEqualTo("subject localhost TLSv1.3");
            await server.WaitForLine("from-python", Bound);
            server.WriteLine("from-openssl");
            await Assert.That(await client.WaitForLine("got ", Bound)).IsEqualTo("got from-openssl");
            await Assert.That(await client.WaitForExit(Bound)).IsEqualTo(0);
        }
        string failure = "";
        try
        {
            await TestCertificates.OpenSsl(Certs.Folder, "x509", "-in", "missing.pem");
        }
        catch (InvalidOperationException e)
        {
            failure = e.Message;
        }
        await Assert.That(failure).Contains("exit code 1");
    }

    [Test]
    public async Task TrustedServer_TlsV13_TheSessionIsSeen_AndAlpnChosen()
    {
        var (server, port) = await SServer(Certs.ServerCert, Certs.ServerKey, "-alpn", "mona");
        await using (server)
        {
            await using TcpApp app = await Client($"{{ca = {Lua(Certs.CaCert)}, alpn = {{'other', 'mona'}}}}", port);
            await Assert.That(await Exchange(server, app)).IsEqualTo($"got from-openssl true true {Tls13} /CN=localhost mona");
        }
    }

    [Test]
    public async Task TrustedServer_WithoutAlpn_AlpnIsNil()
    {
        var (server, port) = await SServer(Certs.ServerCert, Certs.ServerKey);
        await using (server)
        {
            await using TcpApp app = await Client($"{{ca = {Lua(Certs.CaCert)}, alpn = {{'mona'}}}}", port);
            await Assert.That(await Exchange(server, app)).IsEqualTo($"got from-openssl true true {Tls13} /CN=localhost nil");
        }
    }

    [Test]
    public async Task ServerPinnedToTls12_TlsV12()
    {
        var (server, port) = await SServer(Certs.ServerCert, Certs.ServerKey, "-tls1_2");
        await using (server)
        {
            await using TcpApp app = await Client($"{{ca = {Lua(Certs.CaCert)}}}", port);
            await Assert.That(await Exchange(server, app)).IsEqualTo("got from-openssl true true TLSv1.2 /CN=localhost nil");
        }
    }

    /// <summary>The refused certificates of the test set, by name.</summary>
    private static (string Certificate, string Key) ServerOf(string name) => name switch
    {
        "self-signed" => (Certs.SelfSignedCert, Certs.SelfSignedKey),
        "wrong name" => (Certs.WrongNameCert, Certs.ServerKey),
        "expired" => (Certs.ExpiredCert, Certs.ServerKey),
        _ => throw new ArgumentException(name),
    };

    [Test]
    [Arguments("self-signed", "TLS handshake failed: certificate not trusted")]
    [Arguments("wrong name", "TLS handshake failed: name mismatch")]
    [Arguments("expired", "TLS handshake failed: certificate expired")]
    public async Task Refusal_NamesTheCause_AndNothingIsSent(string certificate, string cause)
    {
        var (cert, key) = ServerOf(certificate);
        var (server, port) = await SServer(cert, key);
        await using (server)
        {
            await using TcpApp app = await Client($"{{ca = {Lua(Certs.CaCert)}}}", port);
            await Assert.That(await Note(app, "ended ")).StartsWith("ended " + cause);
            await Assert.That(app.Log.MessagesStartingWith("got ")).IsEmpty();
            await Assert.That(server.Output).DoesNotContain("from-mona");
        }
    }

    [Test]
    public async Task VerifyFalse_AcceptsTheSelfSignedServer()
    {
        var (server, port) = await SServer(Certs.SelfSignedCert, Certs.SelfSignedKey);
        await using (server)
        {
            await using TcpApp app = await Client("{verify = false}", port);
            await Assert.That(await Exchange(server, app)).IsEqualTo($"got from-openssl true true {Tls13} /CN=localhost nil");
        }
    }

    /// <summary>A python TLS server for one connection: prints "port N", echoes what it reads,
    /// and at the end prints "end COUNT SHA256 clean" (close_notify came) or "end COUNT SHA256
    /// error ..." (the connection ended without one).</summary>
    private const string PyEcho = """
        import hashlib, socket, ssl, sys
        cert, key, echo = sys.argv[1], sys.argv[2], sys.argv[3] == 'echo'
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        listener = socket.socket()
        listener.bind(('127.0.0.1', 0))
        listener.listen(1)
        listener.settimeout(30)
        print('port', listener.getsockname()[1], flush=True)
        conn, _ = listener.accept()
        conn.settimeout(30)
        s = ctx.wrap_socket(conn, server_side=True, suppress_ragged_eofs=False)
        digest, got = hashlib.sha256(), 0
        try:
            while True:
                chunk = s.recv(1 << 16)
                if not chunk:
                    break
                digest.update(chunk)
                got += len(chunk)
                if echo:
                    s.sendall(chunk)
            print('end', got, digest.hexdigest(), 'clean', flush=True)
        except Exception as e:
            print('end', got, digest.hexdigest(), 'error', type(e).__name__, e, flush=True)
        """;

    private const int MiB = 1 << 20;

    /// <summary>The payload the scripts send: a 251-byte period (prime, no divisor of a record
    /// size), so that a lost, doubled or reordered record shows. The Lua expression and this
    /// array are the same bytes.</summary>
    private const string LuaPayload = """
        local piece = {}
        for i = 0, 250 do piece[#piece + 1] = string.char((i * 7 + 3) % 256) end
        local payload = string.rep(table.concat(piece), (1 << 20) // 251 + 1):sub(1, 1 << 20)
        """;

    private static string PayloadSha256()
    {
        var payload = new byte[MiB];
        for (int i = 0; i < payload.Length; i++)
            payload[i] = (byte)((i % 251 * 7 + 3) % 256);
        return Convert.ToHexStringLower(SHA256.HashData(payload));
    }

    private static async Task<(TlsPeer Server, int Port)> PythonServer(bool echo)
    {
        TlsPeer server = TlsPeer.Python(PyEcho, Peer(Certs.ServerCert), Peer(Certs.ServerKey), echo ? "echo" : "read");
        try
        {
            string line = await server.WaitForLine("port ", Bound);
            return (server, int.Parse(line["port ".Length..]));
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    [Test]
    public async Task OneMiB_EachWay_ThroughAPythonEcho_ByteForByte_InOrder()
    {
        var (server, port) = await PythonServer(echo: true);
        await using (server)
        {
            await using TcpApp app = await TcpApp.Start($$"""
                {{LuaPayload}}
                local got, size = {}, 0
                client = mona:createTCPClient({ca = {{Lua(Certs.CaCert)}}})
                function client:onReception(data)
                  got[#got + 1] = data
                  size = size + #data
                  if size >= #payload then
                    NOTE("echoed ", size, " same ", tostring(table.concat(got) == payload))
                    self:disconnect()
                  end
                end
                function client:onDisconnection() NOTE("ended ", tostring(self.error)) end
                client:connect("localhost", {{port}})
                client:send(payload)
                """);
            await Assert.That(await Note(app, "echoed ")).IsEqualTo($"echoed {MiB} same true");
            await Assert.That(await server.WaitForLine("end ", Bound)).IsEqualTo($"end {MiB} {PayloadSha256()} clean");
            await Assert.That(await Note(app, "ended ")).IsEqualTo("ended nil");
        }
    }

    [Test]
    public async Task MutualTls_WithACertificate_TheServerSeesTheClientsSubject()
    {
        Skip.When(Wine.IsRunning, WineTls.NoClientCertificate);
        var (server, port) = await SServer(Certs.ServerCert, Certs.ServerKey,
            "-Verify", "1", "-CAfile", Peer(Certs.CaCert), "-verify_return_error");
        await using (server)
        {
            await using TcpApp app = await Client(
                $"{{ca = {Lua(Certs.CaCert)}, certificate = {Lua(Certs.ClientCert)}, key = {Lua(Certs.ClientKey)}}}", port);
            await Assert.That(await Exchange(server, app)).IsEqualTo($"got from-openssl true true {Tls13} /CN=localhost nil");
            // s_server prints the verified client's subject with spaces: "subject=CN = mona client".
            await Assert.That(server.Output).Contains(TestCertificates.ClientSubject.Replace("=", " = ", StringComparison.Ordinal));
        }
    }

    [Test]
    public async Task MutualTls_WithoutACertificate_IsRefused()
    {
        var (server, port) = await SServer(Certs.ServerCert, Certs.ServerKey,
            "-Verify", "1", "-CAfile", Peer(Certs.CaCert), "-verify_return_error");
        await using (server)
        {
            await using TcpApp app = await Client($"{{ca = {Lua(Certs.CaCert)}}}", port);
            // In TLS 1.3 the client finishes its side before the server refuses: the end is
            // still a failed handshake, and the queued data never reaches the server's output.
            // Under Wine, Schannel reports the server's alert as an internal error: the cause is
            // Wine's words, the failed handshake is the same.
            if (Wine.IsRunning)
                await Assert.That(await Note(app, "ended ")).StartsWith("ended TLS handshake failed: ");
            else
                await Assert.That(await Note(app, "ended "))
                    .IsEqualTo("ended TLS handshake failed: refused by the peer (tlsv13 alert certificate required)");
            await Assert.That(app.Log.MessagesStartingWith("got ")).IsEmpty();
            await Assert.That(server.Output).DoesNotContain("from-mona");
        }
    }

    [Test]
    public async Task Disconnect_AfterASend_ThePeerReadsEverything_ThenCloseNotify()
    {
        var (server, port) = await PythonServer(echo: false);
        await using (server)
        {
            await using TcpApp app = await TcpApp.Start($$"""
                {{LuaPayload}}
                client = mona:createTCPClient({ca = {{Lua(Certs.CaCert)}}})
                function client:onDisconnection() NOTE("ended ", tostring(self.error)) end
                client:connect("localhost", {{port}})
                client:send(payload) -- queued before the handshake is done
                client:disconnect()
                NOTE("disconnecting ", tostring(client.connected))
                """);
            await Assert.That(await Note(app, "disconnecting ")).IsEqualTo("disconnecting false");
            await Assert.That(await server.WaitForLine("end ", Bound)).IsEqualTo($"end {MiB} {PayloadSha256()} clean");
            await Assert.That(await Note(app, "ended ")).IsEqualTo("ended nil");
        }
    }
}
