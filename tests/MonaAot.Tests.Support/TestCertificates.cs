using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace MonaAot.Tests.Support;

/// <summary>
/// Certificates for TLS tests, made with the system's openssl command in a temporary folder
/// (removed on dispose): a test CA; a server certificate for localhost and 127.0.0.1 signed by
/// it; the same expired; one for another name signed by the CA; a self-signed one trusted by
/// nobody; a client certificate signed by the CA; and a renewal of the server certificate with
/// another subject and key (to replace the first on disk while a server runs).
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

    /// <summary>Runs openssl in <paramref name="folder"/>; throws with its standard error when it fails.</summary>
    public static async Task OpenSsl(string folder, params string[] arguments)
    {
        var info = new ProcessStartInfo("openssl")
        {
            WorkingDirectory = folder,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
            info.ArgumentList.Add(argument);
        using Process process = Process.Start(info)!;
        process.StandardInput.Close();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"openssl {string.Join(' ', arguments)} did not end within 60 s");
        }
        await output;
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"openssl {string.Join(' ', arguments)}: {await errors}");
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
