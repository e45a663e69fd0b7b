using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Threading;
using System.Threading.Tasks;

namespace MonaAot.Net;

/// <summary>
/// Name resolution, off the loop thread. Injected so that tests can make names fail or
/// resolve without a DNS query ever leaving the machine.
/// </summary>
public interface IResolver
{
    /// <summary>The addresses of <paramref name="host"/>, or an exception saying why not.</summary>
    Task<IPAddress[]> ResolveAsync(string host);
}

/// <summary>getaddrinfo through the runtime: /etc/hosts first, then DNS, IPv4 and IPv6.</summary>
public sealed class SystemResolver : IResolver
{
    public Task<IPAddress[]> ResolveAsync(string host) => Dns.GetHostAddressesAsync(host);
}

/// <summary>
/// The hosts file, for the calls that answer at once (start, bind) and so cannot wait for DNS:
/// they take numeric addresses and the names this file lists. Parsed once and kept: a lookup
/// stats the file at most once per <see cref="CheckInterval"/> and reads it again only when
/// its time or size changed, so sending datagrams to a name costs no file I/O (issue 13, bug 8).
/// Thread-safe: every loop of the process shares <see cref="Default"/>; a parse is published
/// whole, and two threads that both see a change both parse (harmless).
/// </summary>
public sealed class HostsFile
{
    public static readonly TimeSpan DefaultCheckInterval = TimeSpan.FromSeconds(1);

    /// <summary>The system's hosts file.</summary>
    public static HostsFile Default { get; } = new(OperatingSystem.IsWindows()
        ? System.IO.Path.Combine(Environment.SystemDirectory, "drivers", "etc", "hosts")
        : "/etc/hosts");

    private sealed record Snapshot(DateTime LastWrite, long Length, Dictionary<string, IPAddress[]> Names);

    private static readonly Snapshot Missing = new(DateTime.MinValue, -1, new(StringComparer.OrdinalIgnoreCase));

    private volatile Snapshot? _snapshot;
    private long _nextCheck; // Environment.TickCount64 of the next stat
    private long _reads;
    private long _lookups;

    public HostsFile(string path, TimeSpan? checkInterval = null)
    {
        Path = path;
        CheckInterval = checkInterval ?? DefaultCheckInterval;
    }

    public string Path { get; }
    public TimeSpan CheckInterval { get; }

    /// <summary>How many times the file was read and parsed (for tests).</summary>
    public long Reads => Interlocked.Read(ref _reads);

    /// <summary>How many names were looked up in the table (for tests: callers cache).</summary>
    public long Lookups => Interlocked.Read(ref _lookups);

    /// <summary>Numeric address, or a name of <see cref="Default"/>; null when neither.</summary>
    public static IPAddress? Lookup(string host, bool preferIPv6 = false) => Default.Find(host, preferIPv6);

    /// <summary>Numeric address, or a name of this file; null when neither.</summary>
    public IPAddress? Find(string host, bool preferIPv6 = false)
    {
        if (IPAddress.TryParse(host, out IPAddress? numeric))
            return numeric;
        Interlocked.Increment(ref _lookups);
        if (!Current().Names.TryGetValue(host, out IPAddress[]? addresses))
            return IsLocalhost(host) ? (preferIPv6 ? IPAddress.IPv6Loopback : IPAddress.Loopback) : null;
        foreach (IPAddress candidate in addresses)
        {
            if ((candidate.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6) == preferIPv6)
                return candidate;
        }
        return addresses[0];
    }

    /// <summary>"localhost" is the loopback address even when the file does not list it
    /// (RFC 6761; Windows' own hosts file has it commented out, its resolver answers it).</summary>
    private static bool IsLocalhost(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.Equals("localhost.", StringComparison.OrdinalIgnoreCase);

    /// <summary>Changes each time the file is found changed and parsed again: what was looked
    /// up before may be stale. Costs a clock read, and a stat at most once per interval.</summary>
    public object Version => Current();

    private Snapshot Current()
    {
        Snapshot? snapshot = _snapshot;
        long now = Environment.TickCount64;
        if (snapshot is not null && now < Interlocked.Read(ref _nextCheck))
            return snapshot;
        Interlocked.Exchange(ref _nextCheck, now + (long)CheckInterval.TotalMilliseconds);
        var info = new FileInfo(Path);
        DateTime lastWrite = info.Exists ? info.LastWriteTimeUtc : DateTime.MinValue;
        long length = info.Exists ? info.Length : -1;
        if (snapshot is not null && snapshot.LastWrite == lastWrite && snapshot.Length == length)
            return snapshot;
        snapshot = length < 0 ? Missing : Parse(lastWrite, length);
        _snapshot = snapshot;
        return snapshot;
    }

    private Snapshot Parse(DateTime lastWrite, long length)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(Path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Missing with { LastWrite = lastWrite, Length = length };
        }
        Interlocked.Increment(ref _reads);
        var names = new Dictionary<string, List<IPAddress>>(StringComparer.OrdinalIgnoreCase);
        foreach (string line in lines)
        {
            string text = line;
            int hash = text.IndexOf('#');
            if (hash >= 0)
                text = text[..hash];
            string[] fields = text.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 2 || !IPAddress.TryParse(fields[0], out IPAddress? ip))
                continue;
            for (int i = 1; i < fields.Length; i++)
            {
                if (!names.TryGetValue(fields[i], out List<IPAddress>? list))
                    names.Add(fields[i], list = new List<IPAddress>());
                if (!list.Contains(ip))
                    list.Add(ip);
            }
        }
        var result = new Dictionary<string, IPAddress[]>(names.Count, StringComparer.OrdinalIgnoreCase);
        foreach (var (name, list) in names)
            result.Add(name, list.ToArray());
        return new Snapshot(lastWrite, length, result);
    }
}
