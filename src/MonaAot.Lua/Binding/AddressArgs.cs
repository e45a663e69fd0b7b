using System.Net;
using MonaAot.Net;

namespace MonaAot.Lua.Binding;

/// <summary>
/// An address argument as docs/api.md, "Conventions" takes it: "host:port" (IPv6 as "[v6]:port") in
/// one string at <c>arg</c>, or host and port in two arguments from <c>arg</c>.
/// </summary>
public static class AddressArgs
{
    /// <summary>Reads the address. Returns false with <paramref name="argError"/> set for a
    /// wrong type (to be returned by the host function); otherwise true, with
    /// <paramref name="invalid"/> set when the text or port is not valid (a runtime message).</summary>
    public static bool Read(nint L, int arg, out string host, out int port, out string? invalid, out int argError)
    {
        port = 0;
        invalid = null;
        if (!Args.Text(L, arg, out host, out argError))
            return false;
        if (Args.IsNoneOrNil(L, arg + 1))
        {
            invalid = AddressText.TrySplit(host, out host, out port);
            return true;
        }
        if (!Args.Integer(L, arg + 1, out long number, out argError))
            return false;
        invalid = AddressText.CheckPort(number);
        port = (int)number;
        return true;
    }

    /// <summary>A numeric address or a name of the hosts file, without waiting; null otherwise
    /// (the name needs the resolver).</summary>
    public static NetAddress? Immediate(HostsFile hosts, string host, int port) =>
        hosts.Find(host) is { } ip ? NetAddress.From(ip, port) : null;
}
