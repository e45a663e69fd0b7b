using System.Net;
using System.Threading.Tasks;
using MonaAot.Configuration;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Configuration;

/// <summary>[metrics] port and address (docs/api.md, "[metrics]").</summary>
public class MetricsSettingsTests
{
    private static MetricsSettings? Of(string text) => ServerSettings.MetricsOf(IniFile.Parse(text, "test.ini"));

    private static string? ErrorOf(string text)
    {
        try
        {
            Of(text);
            return null;
        }
        catch (ConfigurationException e)
        {
            return e.Message;
        }
    }

    [Test]
    public async Task NoPort_MeansNoEndpoint() =>
        await Assert.That(Of("[metrics]\naddress = 0.0.0.0\n")).IsNull();

    [Test]
    public async Task Port_DefaultsToLoopback()
    {
        MetricsSettings? settings = Of("[metrics]\nport = 9100\n");
        await Assert.That(settings!.Port).IsEqualTo(9100);
        await Assert.That(settings.Address).IsEqualTo(IPAddress.Loopback);
    }

    [Test]
    public async Task Address_TakesIPv6() =>
        await Assert.That(Of("[metrics]\nport = 0\naddress = ::1\n")!.Address).IsEqualTo(IPAddress.IPv6Loopback);

    [Test]
    [Arguments("[metrics]\nport = 70000\n", "test.ini:2: metrics.port must be an integer from 0 to 65535, got '70000'")]
    [Arguments("[metrics]\nport = x\n", "test.ini:2: metrics.port must be an integer from 0 to 65535, got 'x'")]
    [Arguments("[metrics]\nport = 1\naddress = localhost\n", "test.ini:3: metrics.address must be an IP address such as 127.0.0.1 or ::, got 'localhost'")]
    public async Task BadValues_AreOneLine(string text, string expected) =>
        await Assert.That(ErrorOf(text)).IsEqualTo(expected);
}
