using System;
using System.Runtime.InteropServices;

namespace MonaAot.Tests.Support;

/// <summary>
/// Whether the Windows test run is under Wine (ntdll exports wine_get_version there): for the
/// few checks Wine cannot show, which are skipped with the reason instead of failing on Wine's
/// account, and for the Linux programs the tests start as peers (<see cref="LinuxChild"/>),
/// which see the machine's files by their Unix paths. On real Windows and on Linux
/// <see cref="IsRunning"/> is false and every check runs.
/// </summary>
public static class Wine
{
    public static bool IsRunning { get; } = OperatingSystem.IsWindows()
        && NativeLibrary.TryLoad("ntdll.dll", out nint ntdll)
        && NativeLibrary.TryGetExport(ntdll, "wine_get_version", out _);

    /// <summary>A file's path as a Linux program started by the tests must be given it: under
    /// Wine, the Unix path of the Windows one (C:\users\... lives in the prefix's dosdevices
    /// folder, Z:\ is /); elsewhere the path itself.</summary>
    public static string UnixPath(string path)
    {
        if (!IsRunning)
            return path;
        nint unix = GetUnixFileName(System.IO.Path.GetFullPath(path));
        if (unix == 0)
            throw new InvalidOperationException($"Wine has no Unix path for {path}");
        try
        {
            return Marshal.PtrToStringUTF8(unix)!;
        }
        finally
        {
            HeapFree(GetProcessHeap(), 0, unix); // wine_get_unix_file_name allocates on the process heap
        }
    }

    [DllImport("kernel32.dll", EntryPoint = "wine_get_unix_file_name", CharSet = CharSet.Unicode)]
    private static extern nint GetUnixFileName(string dosPath);

    [DllImport("kernel32.dll")]
    private static extern nint GetProcessHeap();

    [DllImport("kernel32.dll")]
    private static extern bool HeapFree(nint heap, uint flags, nint memory);
}

/// <summary>What Wine 8's Schannel and CNG cannot do, for the TLS tests that skip there.</summary>
public static class WineTls
{
    public const string NoServer = "Wine's Schannel has no server side (no AcceptSecurityContext), and its CNG cannot import the RSA key of a PEM certificate (0xc1000002)";
    public const string NoClientCertificate = "Wine's CNG cannot import the RSA key of a PEM certificate (0xc1000002), so a client certificate cannot be loaded";
}

/// <summary>Socket errors Wine 8 takes before the program sees them: its wineserver polls each
/// socket and reads a pending error (SO_ERROR) itself, so the program's next call finds none. A
/// peer's reset then reaches the program now and then as a plain end of stream (the tests that
/// close with a reset accept that under Wine), and a connected UDP socket never sees the ICMP
/// refusal of its peer's port.</summary>
public static class WineNet
{
    public const string NoUdpRefusal = "Wine keeps the ICMP error of a connected UDP socket from the program";
}
