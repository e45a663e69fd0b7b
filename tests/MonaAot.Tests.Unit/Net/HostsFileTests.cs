using System;
using System.IO;
using System.Threading.Tasks;
using MonaAot.Net;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Net;

/// <summary>The hosts file cache (issue 13, bug 8): read once, read again when it changes.</summary>
public class HostsFileTests
{
    private static string TempHosts(string text)
    {
        string path = Path.Combine(Path.GetTempPath(), $"monaaot-hosts-{Guid.NewGuid():N}");
        File.WriteAllText(path, text);
        return path;
    }

    [Test]
    public async Task Find_ChangedFile_SeenAtNextCheck()
    {
        string path = TempHosts("10.1.2.3 alpha # comment\n");
        try
        {
            var hosts = new HostsFile(path, checkInterval: TimeSpan.Zero);
            string? before = hosts.Find("ALPHA")?.ToString();

            File.WriteAllText(path, "10.9.9.9 alpha beta\n::1 beta\n");

            await Assert.That(before).IsEqualTo("10.1.2.3");
            await Assert.That(hosts.Find("alpha")?.ToString()).IsEqualTo("10.9.9.9");
            await Assert.That(hosts.Find("beta", preferIPv6: true)?.ToString()).IsEqualTo("::1");
            await Assert.That(hosts.Find("gamma")).IsNull();
            await Assert.That(hosts.Reads).IsEqualTo(2);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public async Task Find_WithinCheckInterval_NoFileAccess()
    {
        string path = TempHosts("10.1.2.3 alpha\n");
        try
        {
            var hosts = new HostsFile(path, checkInterval: TimeSpan.FromHours(1));
            hosts.Find("alpha");
            File.WriteAllText(path, "10.9.9.9 alpha and more\n");

            for (int i = 0; i < 10_000; i++)
                hosts.Find("alpha");

            await Assert.That(hosts.Find("alpha")?.ToString()).IsEqualTo("10.1.2.3");
            await Assert.That(hosts.Find("127.0.0.1")?.ToString()).IsEqualTo("127.0.0.1");
            await Assert.That(hosts.Reads).IsEqualTo(1);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public async Task Find_LocalhostNotListed_IsLoopback()
    {
        string path = TempHosts("# 127.0.0.1 localhost (commented out, as on Windows)\n");
        try
        {
            var hosts = new HostsFile(path);

            await Assert.That(hosts.Find("localhost")?.ToString()).IsEqualTo("127.0.0.1");
            await Assert.That(hosts.Find("LocalHost", preferIPv6: true)?.ToString()).IsEqualTo("::1");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    [Arguments("999.1.1.1", false)]
    [Arguments("1.2.3.256", false)]
    [Arguments("bad name", false)]
    [Arguments("a..b", false)]
    [Arguments("", false)]
    [Arguments("example.com", true)]
    [Arguments("example.com.", true)]
    [Arguments("1.2.3.example", true)]
    [Arguments("_srv.host-1", true)]
    public async Task CheckHostName_NumericLookingText_IsNoName(string host, bool valid)
    {
        await Assert.That(AddressText.CheckHostName(host) is null).IsEqualTo(valid);
    }
}
