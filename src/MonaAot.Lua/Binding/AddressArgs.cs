using System;
using System.Net;
using MonaAot.Lua.Native;
using MonaAot.Net;

namespace MonaAot.Lua.Binding;

/// <summary>What a method accepts besides "host:port" / "[v6]:port" in one string and host and
/// port in two arguments (docs/api.md, "Conventions").</summary>
/// <param name="PortRequired">A host without ':' needs the port argument (an argument error
/// otherwise), as TCP connect; else it is parsed as "host:port" and its message returned.</param>
/// <param name="PortAlone">One integer (or a string without ':') is a port on every interface:
/// host "", as TCP start(port).</param>
/// <param name="NonZeroPort">Port 0 is refused: "invalid port 0".</param>
public readonly record struct AddressForms(bool PortRequired = false, bool PortAlone = false, bool NonZeroPort = false)
{
    /// <summary>TCP connect: port 1-65535, the port argument required without "host:port".</summary>
    public static readonly AddressForms TcpConnect = new(PortRequired: true, NonZeroPort: true);

    /// <summary>TCP start: also start(port) alone.</summary>
    public static readonly AddressForms TcpStart = new(PortAlone: true);

    /// <summary>UDP bind, connect and send.</summary>
    public static readonly AddressForms Udp = new();
}

/// <summary>
/// The one reader of address arguments: the text and port (<see cref="Read"/>), then where the
/// host leads (<see cref="Locate"/>): an address at once, a name to resolve, or a message.
/// </summary>
public static class AddressArgs
{
    /// <summary>Reads the address at <c>arg</c> (and <c>arg + 1</c>). Returns false with
    /// <paramref name="argError"/> set for a wrong type (to be returned by the host function);
    /// otherwise true, with <paramref name="invalid"/> set when the text or port is not valid (a
    /// runtime message).</summary>
    public static bool Read(nint L, int arg, AddressForms forms, out string host, out int port, out string? invalid, out int argError)
    {
        port = 0;
        invalid = null;
        host = "";
        long number;
        bool alone = Args.IsNoneOrNil(L, arg + 1);
        if (alone && forms.PortAlone
            && !(LuaApi.lua_type(L, arg) == LuaApi.LUA_TSTRING && LuaStrings.Span(L, arg).IndexOf((byte)':') >= 0))
        {
            if (!Args.Integer(L, arg, out number, out argError))
                return false;
        }
        else
        {
            if (!Args.Text(L, arg, out host, out argError))
                return false;
            if (alone && (!forms.PortRequired || host.Contains(':')))
            {
                invalid = AddressText.TrySplit(host, out host, out port);
                if (invalid is null && forms.NonZeroPort && port == 0)
                    invalid = "invalid port 0";
                return true;
            }
            if (!Args.Integer(L, arg + 1, out number, out argError))
                return false;
        }
        invalid = AddressText.CheckPort(number) ?? (forms.NonZeroPort && number == 0 ? "invalid port 0" : null);
        port = (int)number;
        return true;
    }

    /// <summary>
    /// Where <paramref name="host"/> leads without waiting: a numeric address, or (given
    /// <paramref name="hosts"/>) a name of that file. Otherwise null, and: with
    /// <paramref name="hostsOnly"/> (the method's name, for start and bind, which answer at once)
    /// <paramref name="invalid"/> says it cannot resolve; else <paramref name="invalid"/> is set
    /// for text that can be no name, and left null for a name to resolve off the loop.
    /// </summary>
    public static NetAddress? Locate(string host, int port, HostsFile? hosts, string? hostsOnly, out string? invalid)
    {
        invalid = null;
        IPAddress? ip = hosts is not null ? hosts.Find(host) : IPAddress.TryParse(host, out IPAddress? numeric) ? numeric : null;
        if (ip is not null)
            return NetAddress.From(ip, port);
        invalid = hostsOnly is not null
            ? $"cannot resolve {AddressText.Quote(host)} ({hostsOnly} takes numeric addresses and names of the hosts file)"
            : AddressText.CheckHostName(host);
        return null;
    }
}
