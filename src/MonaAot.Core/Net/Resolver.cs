using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
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
/// they take numeric addresses and the names this file lists.
/// </summary>
public static class HostsFile
{
    public static string Path { get; set; } = OperatingSystem.IsWindows()
        ? System.IO.Path.Combine(Environment.SystemDirectory, "drivers", "etc", "hosts")
        : "/etc/hosts";

    /// <summary>Numeric address, or a name of the hosts file; null when neither.</summary>
    public static IPAddress? Lookup(string host, bool preferIPv6 = false)
    {
        if (IPAddress.TryParse(host, out IPAddress? numeric))
            return numeric;
        IPAddress? first = null;
        foreach (IPAddress candidate in Entries(host))
        {
            bool v6 = candidate.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
            if (v6 == preferIPv6)
                return candidate;
            first ??= candidate;
        }
        return first;
    }

    private static IEnumerable<IPAddress> Entries(string host)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(Path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            yield break;
        }
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
                if (string.Equals(fields[i], host, StringComparison.OrdinalIgnoreCase))
                {
                    yield return ip;
                    break;
                }
            }
        }
    }
}
