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
