using System.Runtime.Versioning;

namespace MonaAot.Interop;

/// <summary>
/// The platform this build of the reactor and the socket code is for. MonaAot.Core.csproj compiles either this
/// file with the other <c>*.Unix.cs</c> files or their <c>*.Windows.cs</c> counterparts, so this
/// is a constant, not a run-time test; its attribute tells the platform analyzer what it means.
/// The platform files assert it where shared code calls into them, and may then call their
/// platform's APIs.
/// </summary>
internal static class TargetPlatform
{
    [UnsupportedOSPlatformGuard("windows")]
    public static bool IsUnix => true;
}
