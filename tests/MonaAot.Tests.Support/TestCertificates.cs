using System;
using System.IO;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace MonaAot.Tests.Support;

/// <summary>
/// Certificates for TLS tests, made with the system's openssl command in a temporary folder
/// (removed on dispose): a test CA; a server certificate for localhost and 127.0.0.1 signed by
/// it; the same expired; one for another name signed by the CA; a self-signed one trusted by
/// nobody; a client certificate signed by the CA; and a renewal of the server certificate with
/// another subject and key (to replace the first on disk while a server runs). The paths are the
/// test program's; a Linux peer is given them as <see cref="Wine.UnixPath"/>s.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    private TestCertificates(string folder) => Folder = folder;

    public string Folder { get; }

    public string CaCert => Path.Combine(Folder, "ca.pem");
    public string ServerCert => Path.Combine(Folder, "server.pem");
    public string ServerKey => Path.Combine(Folder, "server.key");
    /// <summary>Signed by the CA for localhost, valid until a day before now; key ServerKey.</summary>
    public string ExpiredCert => Path.Combine(Folder, "expired.pem");
    /// <summary>Signed by the CA for wrong.example only; key ServerKey.</summary>
    public string WrongNameCert => Path.Combine(Folder, "wrongname.pem");
    public string SelfSignedCert => Path.Combine(Folder, "self.pem");
    public string SelfSignedKey => Path.Combine(Folder, "self.key");
    public string ClientCert => Path.Combine(Folder, "client.pem");
    public string ClientKey => Path.Combine(Folder, "client.key");
    /// <summary>Subject /O=MonaAot renewed/CN=localhost, signed by the CA, its own key.</summary>
    public string RenewedCert => Path.Combine(Folder, "renewed.pem");
    public string RenewedKey => Path.Combine(Folder, "renewed.key");

    public const string ServerSubject = "CN=localhost";
    public const string RenewedOrganization = "MonaAot renewed";
    public const string ClientSubject = "CN=mona client";

    public static async Task<TestCertificates> Make()
    {
        string folder = Path.Combine(Path.GetTempPath(), "monaaot-certs-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        var certificates = new TestCertificates(folder);
        try
        {
            File.WriteAllText(Path.Combine(folder, "server.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
            File.WriteAllText(Path.Combine(folder, "wrongname.ext"), "subjectAltName=DNS:wrong.example\n");
            File.WriteAllText(Path.Combine(folder, "client.ext"), "extendedKeyUsage=clientAuth\n");
            await OpenSsl(folder, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=MonaAot test CA",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                "-keyout", "ca.key", "-out", "ca.pem");
            await OpenSsl(folder, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr");
            await Sign(folder, "server.csr", "server.ext", "2", "server.pem");
            // Debian's OpenSSL 3.0 has no -not_after; a negative -days ends the validity a day
            // before it begins (now), which verification reports as expired.
            await Sign(folder, "server.csr", "server.ext", "-1", "expired.pem");
            await OpenSsl(folder, "req", "-new", "-key", "server.key", "-subj", "/CN=wrong.example", "-out", "wrongname.csr");
            await Sign(folder, "wrongname.csr", "wrongname.ext", "2", "wrongname.pem");
            await OpenSsl(folder, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", "self.key", "-out", "self.pem");
            await OpenSsl(folder, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=mona client", "-keyout", "client.key", "-out", "client.csr");
            await Sign(folder, "client.csr", "client.ext", "2", "client.pem");
            await OpenSsl(folder, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/O=" + RenewedOrganization + "/CN=localhost",
                "-keyout", "renewed.key", "-out", "renewed.csr");
            await Sign(folder, "renewed.csr", "server.ext", "2", "renewed.pem");
            return certificates;
        }
        catch
        {
            certificates.Dispose();
            throw;
        }
    }

    private static Task Sign(string folder, string csr, string extensions, string days, string output) =>
        OpenSsl(folder, "x509", "-req", "-in", csr, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", days, "-extfile", extensions, "-out", output);

    /// <summary>Runs openssl in <paramref name="folder"/> (a Linux program, under Wine too:
    /// <see cref="LinuxChild"/>); throws with what it wrote when it fails.</summary>
    public static async Task OpenSsl(string folder, params string[] arguments)
    {
        var said = new StringBuilder();
        var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int streams = 0;
        await using LinuxChild openssl = LinuxChild.Start("openssl", arguments, (line, _) =>
        {
            lock (said)
            {
                if (line is null)
                {
                    if (++streams == 2)
                        ended.TrySetResult();
                }
                else
                {
                    said.AppendLine(line); // under Wine, output and error are one stream
                }
            }
        }, folder);
        openssl.CloseInput();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        int code;
        try
        {
            code = await openssl.WaitForExit(limit.Token);
            await ended.Task.WaitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"openssl {string.Join(' ', arguments)} did not end within 60 s");
        }
        if (code != 0)
        {
            lock (said)
                throw new InvalidOperationException($"openssl {string.Join(' ', arguments)}: exit code {code}: {said}");
        }
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
