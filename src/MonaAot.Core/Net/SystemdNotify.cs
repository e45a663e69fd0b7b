using System;
using System.Diagnostics;

namespace MonaAot.Net;

/// <summary>
/// systemd's Type=notify: state lines (READY=1, RELOADING=1, STOPPING=1) sent as one datagram
/// to the unix socket NOTIFY_SOCKET names (a path, or "@name" for the abstract namespace), so
/// that the service manager knows when the listeners are up and when a reload is done
/// (docs/guide.md, "Under systemd"). Without NOTIFY_SOCKET, and on Windows, nothing is sent.
/// A state change is rare (start, reload, stop): one socket per message is fine.
/// </summary>
public static partial class SystemdNotify
{
    private static readonly string? s_socket = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");

    public static bool Enabled => IsSupported && !string.IsNullOrEmpty(s_socket);

    public static void Ready(string status) => Send($"READY=1\nSTATUS={status}\n");

    /// <summary>RELOADING=1 with the CLOCK_MONOTONIC time, which Type=notify-reload needs
    /// (Stopwatch is that clock on Linux).</summary>
    public static void Reloading() =>
        Send($"RELOADING=1\nMONOTONIC_USEC={Stopwatch.GetTimestamp() / (Stopwatch.Frequency / 1_000_000)}\nSTATUS=reloading\n");

    public static void Stopping(string status) => Send($"STOPPING=1\nSTATUS={status}\n");

    /// <summary>Sends <paramref name="state"/>; false when it could not be (no socket, or an
    /// error, which systemd would notice by itself: a missing READY=1 fails the start).</summary>
    public static bool Send(string state) => Enabled && SendOnPlatform(s_socket!, state);

    private static partial bool IsSupported { get; }
    private static partial bool SendOnPlatform(string socket, string state);
}
