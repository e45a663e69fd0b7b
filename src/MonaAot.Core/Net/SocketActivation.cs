using System;
using MonaAot.Diagnostics;

namespace MonaAot.Net;

/// <summary>
/// Sockets a service manager opened for us (systemd's socket activation: LISTEN_PID,
/// LISTEN_FDS and LISTEN_FDNAMES describe descriptors from 3 on). A TCP server's start or a UDP
/// socket's bind whose address matches one of them takes that descriptor instead of binding
/// (docs/api.md, "Socket activation"). Claimed once at start-up; the variables are then removed
/// so that no child process believes the sockets are its own.
/// </summary>
public static partial class SocketActivation
{
    private const int FirstFd = 3;

    // One slot per passed descriptor: -1 while adopted (or when unusable); s_passed keeps the
    // descriptor numbers, to take one back. Touched on the loop thread only.
    private static nint[] s_fds = [];
    private static nint[] s_passed = [];
    private static NetAddress[] s_addresses = [];
    private static bool[] s_stream = [];
    private static string[] s_names = [];
    private static Logger? s_logger;

    public static int Count => s_fds.Length;

    /// <summary>Reads and removes LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES; returns how many
    /// descriptors were passed to this process (0 on Windows, or when none were).</summary>
    public static int Claim(Logger logger)
    {
        string? pid = Environment.GetEnvironmentVariable("LISTEN_PID");
        string? count = Environment.GetEnvironmentVariable("LISTEN_FDS");
        string? names = Environment.GetEnvironmentVariable("LISTEN_FDNAMES");
        Environment.SetEnvironmentVariable("LISTEN_PID", null);
        Environment.SetEnvironmentVariable("LISTEN_FDS", null);
        Environment.SetEnvironmentVariable("LISTEN_FDNAMES", null);
        // LISTEN_PID names the process the sockets are for: another one's (a parent that
        // forgot to unset them) are not ours to take.
        if (count is null || !int.TryParse(count, out int n) || n <= 0)
            return 0;
        if (!int.TryParse(pid, out int forPid) || forPid != Environment.ProcessId)
        {
            logger.Warn($"LISTEN_FDS={count} ignored: LISTEN_PID={pid} is not this process ({Environment.ProcessId})");
            return 0;
        }
        if (!IsSupported)
        {
            logger.Warn("LISTEN_FDS ignored: socket activation is not available on Windows");
            return 0;
        }
        string[] nameList = names?.Split(':') ?? [];
        var fds = new nint[n];
        var addresses = new NetAddress[n];
        var stream = new bool[n];
        var labels = new string[n];
        for (int i = 0; i < n; i++)
        {
            nint fd = FirstFd + i;
            labels[i] = i < nameList.Length && nameList[i].Length > 0 ? nameList[i] : $"fd {fd}";
            if (!Describe(fd, out addresses[i], out stream[i]))
            {
                logger.Warn($"passed descriptor {fd} ({labels[i]}) is not an IPv4 or IPv6 socket: left alone");
                fds[i] = -1;
                continue;
            }
            fds[i] = fd;
            logger.Info($"socket activation: {(stream[i] ? "TCP" : "UDP")} {addresses[i]} passed as {labels[i]}");
        }
        s_logger = logger;
        s_fds = fds;
        s_passed = (nint[])fds.Clone();
        s_addresses = addresses;
        s_stream = stream;
        s_names = labels;
        return n;
    }

    /// <summary>The passed socket bound to <paramref name="address"/> (same family, address and
    /// port; a stream socket for TCP, a datagram one for UDP), made non-blocking and
    /// close-on-exec, now the caller's; false when there is none.</summary>
    public static bool TryAdopt(in NetAddress address, bool stream, out nint fd)
    {
        for (int i = 0; i < s_fds.Length; i++)
        {
            if (s_fds[i] == -1 || s_stream[i] != stream || !s_addresses[i].SameAs(address))
                continue;
            fd = s_fds[i];
            s_fds[i] = -1;
            Prepare(fd);
            s_logger?.Info($"socket activation: {(stream ? "TCP" : "UDP")} {s_addresses[i]} ({s_names[i]}) adopted instead of binding");
            return true;
        }
        fd = -1;
        return false;
    }

    /// <summary>Takes back an adopted descriptor its owner no longer uses (a server stopped, an
    /// application reloaded): it stays open, listening or bound, for the next start or bind
    /// of its address. systemd keeps its own copy, so closing it and binding again would fail
    /// (address in use) and lose what waits in its backlog. False when <paramref name="fd"/>
    /// was not passed: the caller closes it.</summary>
    public static bool GiveBack(nint fd)
    {
        int i = Array.IndexOf(s_passed, fd);
        if (i < 0 || s_fds[i] != -1)
            return false;
        s_fds[i] = fd;
        return true;
    }

    /// <summary>True when <paramref name="fd"/> is a passed descriptor now adopted.</summary>
    public static bool IsAdopted(nint fd)
    {
        int i = Array.IndexOf(s_passed, fd);
        return i >= 0 && s_fds[i] == -1;
    }

    /// <summary>Once every application started: a passed socket nobody took is a unit file
    /// and a script that disagree, which deserves one warning each.</summary>
    public static void WarnUnused(Logger logger)
    {
        for (int i = 0; i < s_fds.Length; i++)
            if (s_fds[i] != -1)
                logger.Warn($"socket activation: {(s_stream[i] ? "TCP" : "UDP")} {s_addresses[i]} ({s_names[i]}) was passed but no script started or bound that address");
    }

    // The platform's half: whether descriptors can be inherited at all, what a descriptor is,
    // and how it is made ready for the reactor.
    private static partial bool IsSupported { get; }
    private static partial bool Describe(nint fd, out NetAddress address, out bool stream);
    private static partial void Prepare(nint fd);
}
