using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;
using TUnit.Core.Enums;

namespace MonaAot.Tests.EndToEnd;

/// <summary>
/// The hash and encoding functions (docs/api.md, "mona:hash" and the following) in the
/// published out/monaaot: they load no shared library. .NET's own hashes would load OpenSSL's
/// libcrypto on Linux; MonaAot's are in its shim, so after a call of every function the process
/// maps no libcrypto or libssl, and the binary needs nothing but libc, libm and the loader.
/// </summary>
// Linux only: it runs the published Linux binary (out/monaaot) as a child process.
[RunOn(OS.Linux)]
public class HashProcessTests
{
    [Test]
    public async Task EveryFunction_LoadsNoCryptoLibrary()
    {
        using var www = new TempWww();
        www.WriteApp("", """
            local data = ("\0x"):rep(1000)
            for _, name in ipairs({ "md5", "sha1", "sha256", "sha512" }) do
              NOTE(name, " ", mona:toHex(mona:hash(name, data)), " ", mona:toHex(mona:hmac(name, "key", data)))
            end
            NOTE("base64 ", mona:fromBase64(mona:toBase64(data)) == data, " ", mona:toBase64("foobar"))
            NOTE("called")
            """);
        await using MonaProcess mona = MonaProcess.Start(www.Www);

        await mona.WaitForLine("called", TcpProcessTests.Wait);

        string[] maps = File.ReadAllLines($"/proc/{mona.Id}/maps");
        await Assert.That(maps.Where(line => line.Contains("libcrypto") || line.Contains("libssl")).ToArray()).IsEmpty();
        await Assert.That(mona.Lines.Any(line => line.EndsWith("base64 (true) Zm9vYmFy", StringComparison.Ordinal))).IsTrue();
        byte[] data = Enumerable.Repeat(new byte[] { 0, (byte)'x' }, 1000).SelectMany(b => b).ToArray();
        string sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(data));
        await Assert.That(mona.Lines.Any(line => line.Contains(" sha256 " + sha256 + " ", StringComparison.Ordinal))).IsTrue();
    }

    /// <summary>ldd lists only the C library, the math library, the loader and the vDSO.</summary>
    [Test]
    public async Task Binary_NeedsOnlyLibcLibmAndLoader()
    {
        var ldd = new ProcessStartInfo("ldd", MonaProcess.BinaryPath) { RedirectStandardOutput = true, RedirectStandardError = true };
        using Process process = Process.Start(ldd)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(TcpProcessTests.Wait);
        }
        finally
        {
            if (!process.HasExited)
                process.Kill();
        }
        string[] libraries = (await output).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Trim().Split(' ')[0]).ToArray();
        string[] others = libraries.Where(name => !name.StartsWith("linux-vdso.so", StringComparison.Ordinal)
                                                  && name is not ("libc.so.6" or "libm.so.6")
                                                  && !name.Contains("ld-linux", StringComparison.Ordinal)).ToArray();
        await Assert.That(process.ExitCode).IsEqualTo(0);
        await Assert.That(libraries).Contains("libc.so.6");
        await Assert.That(others).IsEmpty();
    }
}
