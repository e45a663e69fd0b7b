using System.Runtime.InteropServices;
using System.Threading.Tasks;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests;

public class BuildInfoTests
{
    [Test]
    public async Task Line_FromGitCheckout_HasShortCommitAndPlatform()
    {
        string line = BuildInfo.Line("0.1.0+a62c473156662ea2b03997c4090ea52c6ea47bac", "linux-arm64");

        await Assert.That(line).IsEqualTo("monaaot 0.1.0 (commit a62c473, linux-arm64)");
    }

    [Test]
    [Arguments("0.1.0")]
    [Arguments("0.1.0+")]
    public async Task Line_WithoutRevision_SaysUnknown(string informational)
    {
        await Assert.That(BuildInfo.Line(informational, "linux-x64")).IsEqualTo("monaaot 0.1.0 (commit unknown, linux-x64)");
    }

    [Test]
    public async Task Platform_IsRuntimeIdentifierLike()
    {
        await Assert.That(BuildInfo.PlatformOf(System.Runtime.InteropServices.Architecture.Arm64)).EndsWith("-arm64");
        await Assert.That(BuildInfo.PlatformOf(System.Runtime.InteropServices.Architecture.X64)).EndsWith("-x64");
        await Assert.That(BuildInfo.Platform).IsEqualTo(RuntimeInformation.RuntimeIdentifier.StartsWith("win") ? "win-x64" : "linux-x64");
    }
}
