using System;
using System.Runtime.InteropServices;

namespace MonaAot.Tests.Support;

/// <summary>
/// Whether the Windows test run is under Wine (ntdll exports wine_get_version there): for the
/// few checks Wine cannot show, which are skipped with the reason instead of failing on Wine's
/// account. On real Windows and on Linux this is false and every check runs.
/// </summary>
public static class Wine
{
    public static bool IsRunning { get; } = OperatingSystem.IsWindows()
        && NativeLibrary.TryLoad("ntdll.dll", out nint ntdll)
        && NativeLibrary.TryGetExport(ntdll, "wine_get_version", out _);
}

/// <summary>What Wine 8's Schannel and CNG cannot do, for the TLS tests that skip there.</summary>
public static class WineTls
{
    public const string NoServer = "Wine's Schannel has no server side (no AcceptSecurityContext), and its CNG cannot import the RSA key of a PEM certificate (0xc1000002)";
    public const string NoClientCertificate = "Wine's CNG cannot import the RSA key of a PEM certificate (0xc1000002), so a client certificate cannot be loaded";
    public const string NoCloseNotify = "Wine's Schannel has no ApplyControlToken, so no close_notify can be made";
}
