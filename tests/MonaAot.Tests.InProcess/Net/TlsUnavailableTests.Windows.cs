using System.Threading.Tasks;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Net;

/// <summary>No TLS engine on Windows yet: asking for TLS is a clear Lua error at creation
/// (docs/api.md, "TLS").</summary>
public class TlsUnavailableTests
{
    [Test]
    [Arguments("mona:createTCPClient(true)", "createTCPClient")]
    [Arguments("mona:createTCPServer({certificate = 'main.lua', key = 'main.lua'})", "createTCPServer")]
    public async Task AskingForTls_RaisesNotAvailable(string call, string function)
    {
        string result = await TcpApp.ResultOf("", $"return {call}");
        await Assert.That(result).EndsWith($"bad argument #1 to '{function}' (TLS is not available on this platform yet)");
    }
}
