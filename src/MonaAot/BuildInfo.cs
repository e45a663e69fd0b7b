using System;
using System.Runtime.InteropServices;

namespace MonaAot;

/// <summary>
/// What <c>--version</c> prints: the version, the commit the binary was built from and the
/// platform it was built for, so that a binary copied onto a device can be traced back to its
/// sources and its release archive (docs/install.md).
/// </summary>
public static class BuildInfo
{
    /// <summary>The assembly's informational version: <c>X.Y.Z</c>, then <c>+</c> and the full
    /// commit id when the SDK built it from a git checkout (its source revision), nothing after
    /// it otherwise. A constant the build writes (MonaAot.csproj, WriteBuildVersion), the same
    /// text as the assembly's attribute: reading the attribute back at start-up ran the
    /// reflection stack, whose code and metadata were about 200 KiB of idle memory
    /// (docs/performance.md, "Memory at start").</summary>
    public static string InformationalVersion => BuildVersion.Informational;

    /// <summary>The release version, <c>X.Y.Z</c>.</summary>
    public static string Version => VersionOf(InformationalVersion);

    /// <summary>The short commit id (7 hexadecimal digits), or <c>unknown</c> outside a git checkout.</summary>
    public static string Commit => CommitOf(InformationalVersion);

    /// <summary>The platform as a runtime identifier (<c>linux-x64</c>, <c>linux-arm64</c>,
    /// <c>win-x64</c>), the name the release archives carry.</summary>
    public static string Platform => PlatformOf(RuntimeInformation.ProcessArchitecture);

    /// <summary>The line <c>--version</c> prints: <c>monaaot 0.1.0 (commit 1a2b3c4, linux-x64)</c>.</summary>
    public static string VersionLine => Line(InformationalVersion, Platform);

    public static string Line(string informationalVersion, string platform) =>
        $"monaaot {VersionOf(informationalVersion)} (commit {CommitOf(informationalVersion)}, {platform})";

    public static string VersionOf(string informationalVersion)
    {
        int plus = informationalVersion.IndexOf('+');
        return plus < 0 ? informationalVersion : informationalVersion[..plus];
    }

    public static string CommitOf(string informationalVersion)
    {
        int plus = informationalVersion.IndexOf('+');
        if (plus < 0)
            return "unknown";
        string revision = informationalVersion[(plus + 1)..];
        return revision.Length == 0 ? "unknown" : revision.Length > 7 ? revision[..7] : revision;
    }

    public static string PlatformOf(Architecture architecture)
    {
        string os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : OperatingSystem.IsLinux() ? "linux" : "unknown";
        return $"{os}-{architecture.ToString().ToLowerInvariant()}";
    }
}
