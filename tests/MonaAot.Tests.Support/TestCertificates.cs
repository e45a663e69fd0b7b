using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace MonaAot.Tests.Support;

/// <summary>A CA, a server certificate for localhost and 127.0.0.1 signed by it, the same
/// expired, a client certificate, and a self-signed one (trusted by nobody).</summary>
public sealed class TestCertificates
{
    public required string Folder { get; init; }
    public string CaCert => Path.Combine(Folder, "ca.pem");
    public string ServerCert => Path.Combine(Folder, "server.pem");
    public string ServerKey => Path.Combine(Folder, "server.key");
    public string ExpiredCert => Path.Combine(Folder, "expired.pem");
    public string ClientCert => Path.Combine(Folder, "client.pem");
    public string ClientKey => Path.Combine(Folder, "client.key");
    public string SelfSignedCert => Path.Combine(Folder, "self.pem");
    public string SelfSignedKey => Path.Combine(Folder, "self.key");

    public static async Task<TestCertificates> Make()
    {
        string folder = Path.Combine(Path.GetTempPath(), "monaaot-tls-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "server.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
        File.WriteAllText(Path.Combine(folder, "client.ext"), "extendedKeyUsage=clientAuth\n");
        await OpenSsl(folder, "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=MonaAot-test-CA -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -keyout ca.key -out ca.pem");
        await OpenSsl(folder, "req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr");
        await OpenSsl(folder, "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile server.ext -out server.pem");
        // Debian's OpenSSL 3.0 has no -not_after; a negative -days ends the validity a day
        // before it begins (now), which verification reports as expired.
        await OpenSsl(folder, "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days -1 -extfile server.ext -out expired.pem");
        await OpenSsl(folder, "req -newkey rsa:2048 -nodes -subj /CN=mona\\ client -keyout client.key -out client.csr");
        await OpenSsl(folder, "x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile client.ext -out client.pem");
        await OpenSsl(folder, "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -addext subjectAltName=DNS:localhost -keyout self.key -out self.pem");
        return new TestCertificates { Folder = folder };
    }

    private static async Task OpenSsl(string folder, string arguments)
    {
        var info = new ProcessStartInfo("openssl")
        {
            WorkingDirectory = folder,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        foreach (string argument in arguments.Replace("\\ ", "\u0001").Split(' '))
            info.ArgumentList.Add(argument.Replace('\u0001', ' '));
        using Process process = Process.Start(info)!;
        Task<string> errors = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(limit.Token);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"openssl {arguments}: {await errors}");
    }
}
