namespace MonaAot.Net;

/// <summary>The Windows half of <see cref="SystemdNotify"/>: there is no systemd, nothing is
/// sent (docs/guide.md, "Under systemd").</summary>
public static partial class SystemdNotify
{
    private static partial bool IsSupported => false;

    private static partial bool SendOnPlatform(string socket, string state) => false;
}
