using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using MonaAot.Net.Tls;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Net;

/// <summary>
/// The TLS engine alone (Net/Tls/: OpenSSL through memory BIOs, Schannel through SSPI): a client session and a server
/// session pump ciphertext to each other in memory, with certificates the tests make with the
/// openssl command. No socket: what the engine decides, not the connection around it.
/// </summary>
public class TlsSessionTests
{
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

    [Test]
    [Arguments(TlsProtocol.Tls13, "TLSv1.3")]
    [Arguments(TlsProtocol.Tls12, "TLSv1.2")]
    public async Task Handshake_Completes_WithVersionAlpnAndSubjects(TlsProtocol max, string version)
    {
        TestCertificates certs = await Certificates();
        using TlsContext server = NewContext(new TlsOptions
        {
            IsServer = true, CertificateFile = certs.ServerCert, KeyFile = certs.ServerKey,
            CaFile = certs.CaCert, Alpn = ["mqtt", "h2"], MaxProtocol = max,
        });
        using TlsContext client = NewContext(new TlsOptions
        {
            CaFile = certs.CaCert, CertificateFile = certs.ClientCert, KeyFile = certs.ClientKey,
            Alpn = ["h2", "http/1.1"],
        });
        using var pair = new Pair(client, server, "localhost");

        await Assert.That(pair.Handshake()).IsNull();
        await Assert.That(pair.Client.Version).IsEqualTo(version);
        await Assert.That(pair.Server.Version).IsEqualTo(version);
        await Assert.That(pair.Client.Alpn).IsEqualTo("h2");
        await Assert.That(pair.Server.Alpn).IsEqualTo("h2");
        await Assert.That(pair.Client.PeerSubject).IsEqualTo("/CN=localhost");
        await Assert.That(pair.Server.PeerSubject).IsEqualTo("/CN=mona client");
    }

    [Test]
    public async Task Alpn_NonAsciiName_IsTheChosenOne_NotAnotherWhoseCharsMatchItsBytes()
    {
        // "\u00C3\u00A9" has two chars of the values of "\u00E9"'s two UTF-8 bytes: the name read
        // back must be the one chosen (TlsSession.AlpnText compares chars with bytes).
        TestCertificates certs = await Certificates();
        using TlsContext server = NewContext(new TlsOptions { IsServer = true, CertificateFile = certs.ServerCert, KeyFile = certs.ServerKey, Alpn = ["\u00C3\u00A9", "\u00E9"] });
        using TlsContext client = NewContext(new TlsOptions { CaFile = certs.CaCert, Alpn = ["\u00E9"] });
        using var pair = new Pair(client, server, "localhost");

        await Assert.That(pair.Handshake()).IsNull();
        await Assert.That(pair.Client.Alpn).IsEqualTo("\u00E9");
        await Assert.That(pair.Server.Alpn).IsEqualTo("\u00E9");
    }

    [Test]
    public async Task Alpn_WithNothingInCommon_IsNone()
    {
        TestCertificates certs = await Certificates();
        using TlsContext server = NewContext(new TlsOptions { IsServer = true, CertificateFile = certs.ServerCert, KeyFile = certs.ServerKey, Alpn = ["mqtt"] });
        using TlsContext client = NewContext(new TlsOptions { CaFile = certs.CaCert, Alpn = ["h2"] });
        using var pair = new Pair(client, server, "localhost");

        await Assert.That(pair.Handshake()).IsNull();
        await Assert.That(pair.Client.Alpn).IsNull();
        await Assert.That(pair.Server.Alpn).IsNull();
        await Assert.That(pair.Server.PeerSubject).IsNull();
    }

    [Test]
    [Arguments(TlsProtocol.Tls13)]
    [Arguments(TlsProtocol.Tls12)]
    public async Task OneMebibyte_EachWay_ArrivesByteForByte(TlsProtocol max)
    {
        TestCertificates certs = await Certificates();
        using TlsContext server = NewContext(new TlsOptions { IsServer = true, CertificateFile = certs.ServerCert, KeyFile = certs.ServerKey, MaxProtocol = max });
        using TlsContext client = NewContext(new TlsOptions { CaFile = certs.CaCert });
        using var pair = new Pair(client, server, "localhost");
        await Assert.That(pair.Handshake()).IsNull();

        byte[] up = new byte[1024 * 1024];
        byte[] down = new byte[1024 * 1024];
        new Random(1).NextBytes(up);
        new Random(2).NextBytes(down);
        var atServer = new MemoryStream();
        var atClient = new MemoryStream();
        // Written in 64 KiB pieces, pumped after each, as a connection would.
        for (int offset = 0; offset < up.Length; offset += 65536)
        {
            await Assert.That(pair.Client.WritePlaintext(up.AsSpan(offset, 65536))).IsEqualTo(TlsStatus.Done);
            await Assert.That(pair.Server.WritePlaintext(down.AsSpan(offset, 65536))).IsEqualTo(TlsStatus.Done);
            Pair.Move(pair.Client, pair.Server);
            Pair.Move(pair.Server, pair.Client);
            await Assert.That(Pair.Drain(pair.Server, atServer)).IsEqualTo(TlsStatus.NeedMore);
            await Assert.That(Pair.Drain(pair.Client, atClient)).IsEqualTo(TlsStatus.NeedMore);
        }

        await Assert.That(atServer.ToArray().AsSpan().SequenceEqual(up)).IsTrue();
        await Assert.That(atClient.ToArray().AsSpan().SequenceEqual(down)).IsTrue();
    }

    [Test]
    public async Task Records_AllocateNothingManaged()
    {
        TestCertificates certs = await Certificates();
        using TlsContext server = NewContext(new TlsOptions { IsServer = true, CertificateFile = certs.ServerCert, KeyFile = certs.ServerKey });
        using TlsContext client = NewContext(new TlsOptions { CaFile = certs.CaCert });
        using var pair = new Pair(client, server, "localhost");
        await Assert.That(pair.Handshake()).IsNull();
        byte[] message = new byte[20_000];
        byte[] plaintext = new byte[32 * 1024];

        long total = 0;
        long allocated = 0;
        for (int round = 0; round < 2; round++) // the first round warms up (the JIT, OpenSSL's buffers)
        {
            total = 0;
            allocated = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 200; i++)
            {
                pair.Client.WritePlaintext(message);
                Pair.Move(pair.Client, pair.Server);
                while (pair.Server.ReadPlaintext(plaintext, out int count) == TlsStatus.Done)
                    total += count;
            }
            allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        }

        await Assert.That(total).IsEqualTo(200L * message.Length);
        await Assert.That(allocated).IsEqualTo(0);
    }

    [Test]
    public async Task SelfSignedServer_WithoutCa_IsRefused_AsNotTrusted()
    {
        TestCertificates certs = await Certificates();
        using TlsContext server = NewContext(new TlsOptions { IsServer = true, CertificateFile = certs.SelfSignedCert, KeyFile = certs.SelfSignedKey });
        using TlsContext client = NewContext(new TlsOptions()); // the system's trust store
        using var pair = new Pair(client, server, "localhost");

        await Assert.That(pair.Handshake()).IsEqualTo("client: certificate not trusted (self-signed certificate)");
        // The alert the client queued tells the server.
        Pair.Move(pair.Client, pair.Server);
        await Assert.That(pair.Server.Handshake()).IsEqualTo(TlsStatus.Failed);
        await Assert.That(pair.Server.Failure).IsEqualTo("refused by the peer (tlsv1 alert unknown ca)");
    }

    [Test]
    public async Task WrongName_IsRefused()
    {
        TestCertificates certs = await Certificates();
        using TlsContext server = NewContext(new TlsOptions { IsServer = true, CertificateFile = certs.ServerCert, KeyFile = certs.ServerKey });
        using TlsContext client = NewContext(new TlsOptions { CaFile = certs.CaCert });
        using var pair = new Pair(client, server, "example.org");

        await Assert.That(pair.Handshake()).IsEqualTo("client: name mismatch (the certificate is not for example.org)");
    }

    [Test]
    public async Task Address_IsCheckedAgainstTheCertificatesAddresses()
    {
        TestCertificates certs = await Certificates();
        using TlsContext server = NewContext(new TlsOptions { IsServer = true, CertificateFile = certs.ServerCert, KeyFile = certs.ServerKey });
        using TlsContext client = NewContext(new TlsOptions { CaFile = certs.CaCert });
        using (var good = new Pair(client, server, "127.0.0.1"))
            await Assert.That(good.Handshake()).IsNull();
        using var bad = new Pair(client, server, "127.0.0.2");
        await Assert.That(bad.Handshake()).IsEqualTo("client: name mismatch (the certificate is not for 127.0.0.2)");
    }

    [Test]
    public async Task ExpiredCertificate_IsRefused()
    {
        TestCertificates certs = await Certificates();
        using TlsContext server = NewContext(new TlsOptions { IsServer = true, CertificateFile = certs.ExpiredCert, KeyFile = certs.ServerKey });
        using TlsContext client = NewContext(new TlsOptions { CaFile = certs.CaCert });
        using var pair = new Pair(client, server, "localhost");

        await Assert.That(pair.Handshake()).IsEqualTo("client: certificate expired");
    }

    [Test]
    public async Task VerifyFalse_AcceptsSelfSignedWrongNameAndExpired()
    {
        TestCertificates certs = await Certificates();
        using TlsContext client = NewContext(new TlsOptions { Verify = false });
        foreach ((string cert, string key) in new[] { (certs.SelfSignedCert, certs.SelfSignedKey), (certs.ExpiredCert, certs.ServerKey) })
        {
            using TlsContext server = NewContext(new TlsOptions { IsServer = true, CertificateFile = cert, KeyFile = key });
            using var pair = new Pair(client, server, "example.org");
            await Assert.That(pair.Handshake()).IsNull();
        }
    }

    [Test]
    [Arguments(TlsProtocol.Tls13)]
    [Arguments(TlsProtocol.Tls12)]
    public async Task ClientCertificate_RequiredAndMissing_IsRefused(TlsProtocol max)
    {
        TestCertificates certs = await Certificates();
        using TlsContext server = NewContext(new TlsOptions { IsServer = true, CertificateFile = certs.ServerCert, KeyFile = certs.ServerKey, CaFile = certs.CaCert, MaxProtocol = max });
        using TlsContext client = NewContext(new TlsOptions { CaFile = certs.CaCert });
        using var pair = new Pair(client, server, "localhost");

        string? failure = pair.Handshake();
        if (max == TlsProtocol.Tls12)
        {
            // TLS 1.2: the server refuses before the client's handshake ends.
            await Assert.That(failure).IsEqualTo("server: client certificate missing");
            await Assert.That(pair.Client.Handshake()).IsEqualTo(TlsStatus.Failed);
            await Assert.That(pair.Client.Failure).IsEqualTo("refused by the peer (sslv3 alert handshake failure)");
        }
        else
        {
            // TLS 1.3: the client is done first; the server's alert reaches it as it reads.
            await Assert.That(failure).IsEqualTo("server: client certificate missing");
            await Assert.That(pair.Client.IsEstablished).IsTrue();
            Pair.Move(pair.Server, pair.Client);
            await Assert.That(pair.Client.ReadPlaintext(new byte[100], out _)).IsEqualTo(TlsStatus.Failed);
            await Assert.That(pair.Client.Failure).IsEqualTo("refused by the peer (tlsv13 alert certificate required)");
        }
    }

    [Test]
    public async Task ClientCertificate_NotTrustedByTheServer_IsRefused()
    {
        TestCertificates certs = await Certificates();
        using TlsContext server = NewContext(new TlsOptions { IsServer = true, CertificateFile = certs.ServerCert, KeyFile = certs.ServerKey, CaFile = certs.CaCert });
        using TlsContext client = NewContext(new TlsOptions { CaFile = certs.CaCert, CertificateFile = certs.SelfSignedCert, KeyFile = certs.SelfSignedKey });
        using var pair = new Pair(client, server, "localhost");

        await Assert.That(pair.Handshake()).IsEqualTo("server: certificate not trusted (self-signed certificate)");
    }

    [Test]
    public async Task CloseNotify_IsSeenByThePeer_AfterTheLastBytes()
    {
        TestCertificates certs = await Certificates();
        using TlsContext server = NewContext(new TlsOptions { IsServer = true, CertificateFile = certs.ServerCert, KeyFile = certs.ServerKey });
        using TlsContext client = NewContext(new TlsOptions { CaFile = certs.CaCert });
        using var pair = new Pair(client, server, "localhost");
        await Assert.That(pair.Handshake()).IsNull();

        await Assert.That(pair.Client.WritePlaintext("bye"u8)).IsEqualTo(TlsStatus.Done);
        await Assert.That(pair.Client.Shutdown()).IsTrue();
        await Assert.That(pair.Client.Shutdown()).IsFalse(); // once
        Pair.Move(pair.Client, pair.Server);
        var received = new MemoryStream();
        await Assert.That(Pair.Drain(pair.Server, received)).IsEqualTo(TlsStatus.Closed);
        await Assert.That(received.ToArray().AsSpan().SequenceEqual("bye"u8)).IsTrue();
        await Assert.That(pair.Server.PeerClosed).IsTrue();

        // The server answers with its own; the client sees it too.
        await Assert.That(pair.Server.Shutdown()).IsTrue();
        Pair.Move(pair.Server, pair.Client);
        await Assert.That(Pair.Drain(pair.Client, received)).IsEqualTo(TlsStatus.Closed);
    }

    [Test]
    public async Task PlainBytes_ToAServer_AreAProtocolError()
    {
        TestCertificates certs = await Certificates();
        using TlsContext server = NewContext(new TlsOptions { IsServer = true, CertificateFile = certs.ServerCert, KeyFile = certs.ServerKey });
        using TlsSession session = TlsSession.CreateServer(server, out string? error)!;
        await Assert.That(error).IsNull();

        session.FeedCiphertext("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"u8);
        await Assert.That(session.Handshake()).IsEqualTo(TlsStatus.Failed);
        await Assert.That(session.Failure!).StartsWith("protocol error (");
    }

    /// <summary>A pooled connection's session serves its next accept (docs/architecture.md,
    /// "Connection pooling"): disposed after a failure, made anew it knows nothing of it, and
    /// after a completed handshake it shakes hands again with another client. On Linux it is the
    /// same object (a fresh SSL inside); SChannel's build makes a new one.</summary>
    [Test]
    public async Task DisposedServerSession_ServesTheNextConnection_AsANewOne()
    {
        TestCertificates certs = await Certificates();
        using TlsContext server = NewContext(new TlsOptions { IsServer = true, CertificateFile = certs.ServerCert, KeyFile = certs.ServerKey, Alpn = ["h2"] });
        using TlsContext client = NewContext(new TlsOptions { CaFile = certs.CaCert, Alpn = ["h2"] });
        TlsSession first = TlsSession.CreateServer(server, out string? error)!;
        first.FeedCiphertext("GET / HTTP/1.1\r\n\r\n"u8);
        await Assert.That(first.Handshake()).IsEqualTo(TlsStatus.Failed);
        first.Dispose();

        TlsSession second = TlsSession.CreateServer(server, first, out error)!;
        await Assert.That(error).IsNull();
        if (OperatingSystem.IsLinux())
            await Assert.That(second).IsSameReferenceAs(first);
        await Assert.That(second.Failure).IsNull();
        await Assert.That(second.IsEstablished).IsFalse();
        using (var pair = new Pair(TlsSession.CreateClient(client, "localhost", out error)!, second))
        {
            await Assert.That(pair.Handshake()).IsNull();
            await Assert.That(second.Alpn).IsEqualTo("h2");
        }

        TlsSession third = TlsSession.CreateServer(server, second, out error)!;
        await Assert.That(third.IsEstablished).IsFalse();
        await Assert.That(third.Alpn).IsNull();
        using (var pair = new Pair(TlsSession.CreateClient(client, "localhost", out error)!, third))
        {
            await Assert.That(pair.Handshake()).IsNull();
            await Assert.That(third.Version).IsNotNull();
        }
        if (OperatingSystem.IsLinux())
        {
            using TlsSession inUse = TlsSession.CreateServer(server, out _)!;
            await Assert.That(() => TlsSession.CreateServer(server, inUse, out _)).Throws<InvalidOperationException>();
        }
    }

    [Test]
    public async Task Context_WithMissingFilesOrMismatchedKey_SaysWhich()
    {
        TestCertificates certs = await Certificates();
        string missing = Path.Combine(certs.Folder, "missing.pem");
        await Assert.That(TlsContext.Create(new TlsOptions { IsServer = true, CertificateFile = missing, KeyFile = certs.ServerKey }, out string? error)).IsNull();
        await Assert.That(error!).StartsWith($"cannot use the certificate {missing}");
        await Assert.That(TlsContext.Create(new TlsOptions { IsServer = true, CertificateFile = certs.ServerCert, KeyFile = certs.SelfSignedKey }, out error)).IsNull();
        await Assert.That(error).IsEqualTo($"cannot use the key {certs.SelfSignedKey}: key values mismatch");
        await Assert.That(TlsContext.Create(new TlsOptions { IsServer = true }, out error)).IsNull();
        await Assert.That(error).IsEqualTo("a TLS server needs a certificate and a key");
    }

    [Test]
    public async Task Dispose_IsIdempotent_AndAContextOutlivesItsCreatorWhileASessionHoldsIt()
    {
        TestCertificates certs = await Certificates();
        TlsContext server = NewContext(new TlsOptions { IsServer = true, CertificateFile = certs.ServerCert, KeyFile = certs.ServerKey, Alpn = ["h2"] });
        TlsContext client = NewContext(new TlsOptions { CaFile = certs.CaCert, Alpn = ["h2"] });
        var pair = new Pair(client, server, "localhost");
        server.Dispose(); // as a renewed certificate would replace it
        client.Dispose();
        server.Dispose();

        await Assert.That(pair.Handshake()).IsNull(); // the ALPN callback still has its list
        await Assert.That(pair.Server.Alpn).IsEqualTo("h2");
        pair.Dispose();
        pair.Dispose();
        await Assert.That(() => pair.Client.Handshake()).Throws<ObjectDisposedException>();
    }

    private static TlsContext NewContext(TlsOptions options)
        => TlsContext.Create(options, out string? error) ?? throw new InvalidOperationException(error);

    /// <summary>A client and a server session joined in memory.</summary>
    private sealed class Pair : IDisposable
    {
        private static readonly byte[] Buffer = new byte[64 * 1024];

        public Pair(TlsContext client, TlsContext server, string serverName)
        {
            Client = TlsSession.CreateClient(client, serverName, out string? error) ?? throw new InvalidOperationException(error);
            Server = TlsSession.CreateServer(server, out error) ?? throw new InvalidOperationException(error);
        }

        public Pair(TlsSession client, TlsSession server)
        {
            Client = client;
            Server = server;
        }

        public TlsSession Client { get; }
        public TlsSession Server { get; }

        /// <summary>Runs both handshakes to their end: null when both are done, else the first
        /// failure as "side: reason".</summary>
        public string? Handshake()
        {
            for (int round = 0; round < 20; round++)
            {
                TlsStatus client = Client.Handshake();
                Move(Client, Server);
                TlsStatus server = Server.Handshake();
                Move(Server, Client);
                if (client == TlsStatus.Failed)
                    return "client: " + Client.Failure;
                if (server == TlsStatus.Failed)
                    return "server: " + Server.Failure;
                if (client == TlsStatus.Done && server == TlsStatus.Done)
                    return null;
            }
            return "no progress";
        }

        public static void Move(TlsSession from, TlsSession to)
        {
            lock (Buffer)
            {
                int count;
                while ((count = from.TakeCiphertext(Buffer)) > 0)
                    to.FeedCiphertext(Buffer.AsSpan(0, count));
            }
        }

        /// <summary>Reads all the plaintext there is; the status that stopped it.</summary>
        public static TlsStatus Drain(TlsSession session, Stream into)
        {
            byte[] buffer = new byte[16 * 1024];
            while (true)
            {
                TlsStatus status = session.ReadPlaintext(buffer, out int count);
                if (status != TlsStatus.Done)
                    return status;
                into.Write(buffer, 0, count);
            }
        }

        public void Dispose()
        {
            Client.Dispose();
            Server.Dispose();
        }
    }
}
