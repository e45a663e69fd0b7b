using System;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Threading;

#pragma warning disable CS8981 // C names verbatim

namespace MonaAot.Interop;

/// <summary>
/// winsock2.h, mswsock.h and ws2ipdef.h: the Windows socket calls of the IOCP backend, C names
/// verbatim. Every import sets the last error, and callers take it with the result through
/// <see cref="Checked"/>: that is WSAGetLastError's value,
/// and it is also what works under Wine, where a separate WSAGetLastError import reads 0.
/// </summary>
[SupportedOSPlatform("windows")]
internal static unsafe partial class Winsock
{
    private const string Name = "ws2_32.dll";

    public const int AF_INET = 2;
    public const int AF_INET6 = 23;
    public const int SOCK_STREAM = 1;
    public const int SOCK_DGRAM = 2;
    public const int IPPROTO_TCP = 6;
    public const int IPPROTO_UDP = 17;
    public const int IPPROTO_IPV6 = 41;

    public const int SOL_SOCKET = 0xffff;
    public const int SO_REUSEADDR = 0x0004;
    public const int SO_BROADCAST = 0x0020;
    public const int SO_LINGER = 0x0080;
    public const int SO_ERROR = 0x1007;
    public const int SO_TYPE = 0x1008;
    public const int SO_UPDATE_ACCEPT_CONTEXT = 0x700B;
    public const int SO_UPDATE_CONNECT_CONTEXT = 0x7010;
    public const int TCP_NODELAY = 1;
    public const int IPV6_V6ONLY = 27;
    public const int SOMAXCONN = 0x7fffffff;
    public const int SD_SEND = 1;
    public const int MSG_PEEK = 0x2;
    public const uint SIO_UDP_CONNRESET = 0x9800000C;

    // Multicast (ws2ipdef.h): the option numbers differ from Linux, the request layouts too.
    public const int IPPROTO_IP = 0;
    public const int IP_MULTICAST_IF = 9;
    public const int IP_MULTICAST_TTL = 10;
    public const int IP_MULTICAST_LOOP = 11;
    public const int IP_ADD_MEMBERSHIP = 12;
    public const int IP_DROP_MEMBERSHIP = 13;
    public const int IPV6_MULTICAST_IF = 9;
    public const int IPV6_MULTICAST_HOPS = 10;
    public const int IPV6_MULTICAST_LOOP = 11;
    public const int IPV6_ADD_MEMBERSHIP = 12;
    public const int IPV6_DROP_MEMBERSHIP = 13;

    /// <summary>struct ip_mreq: group and local interface address, both in network order.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct ip_mreq
    {
        public uint imr_multiaddr;
        public uint imr_interface;
    }
    public const uint FIONBIO = 0x8004667E;
    public const uint SIO_GET_EXTENSION_FUNCTION_POINTER = 0xC8000006;
    public const uint WSA_FLAG_OVERLAPPED = 0x01;
    public const uint WSA_FLAG_NO_HANDLE_INHERIT = 0x80;
    public static readonly nint INVALID_SOCKET = -1;

    // Error codes (winerror.h): the WSA ones from calls, the system ones from completions.
    public const int WSAEINTR = 10004;
    public const int WSAEACCES = 10013;
    public const int WSAEINVAL = 10022;
    public const int WSAEMFILE = 10024;
    public const int WSAEWOULDBLOCK = 10035;
    public const int WSAEINPROGRESS = 10036;
    public const int WSAEMSGSIZE = 10040;
    public const int WSAEOPNOTSUPP = 10045;
    public const int WSAEAFNOSUPPORT = 10047;
    public const int WSAEADDRINUSE = 10048;
    public const int WSAEADDRNOTAVAIL = 10049;
    public const int WSAENETDOWN = 10050;
    public const int WSAENETUNREACH = 10051;
    public const int WSAENETRESET = 10052;
    public const int WSAECONNABORTED = 10053;
    public const int WSAECONNRESET = 10054;
    public const int WSAENOBUFS = 10055;
    public const int WSAENOTCONN = 10057;
    public const int WSAESHUTDOWN = 10058;
    public const int WSAETIMEDOUT = 10060;
    public const int WSAECONNREFUSED = 10061;
    public const int WSAEHOSTDOWN = 10064;
    public const int WSAEHOSTUNREACH = 10065;
    public const int ERROR_NOT_ENOUGH_MEMORY = 8; // WSA_NOT_ENOUGH_MEMORY as well
    public const int ERROR_NETNAME_DELETED = 64;
    public const int ERROR_SEM_TIMEOUT = 121;
    public const int ERROR_OPERATION_ABORTED = 995;
    public const int ERROR_IO_PENDING = 997;
    public const int ERROR_CONNECTION_REFUSED = 1225;
    public const int ERROR_CONNECTION_ABORTED = 1236;
    public const int ERROR_PORT_UNREACHABLE = 1234;
    public const int ERROR_HOST_UNREACHABLE = 1232;
    public const int ERROR_NETWORK_UNREACHABLE = 1231;

    /// <summary><paramref name="result"/> with WSAGetLastError's value (kept by the import's
    /// SetLastError stub) when it is negative, read in the expression that made the call
    /// (<c>Winsock.Checked(Winsock.send(...))</c>), before any other import can replace it.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static CallResult Checked(nint result) =>
        result < 0 ? new CallResult(result, Marshal.GetLastPInvokeError()) : new CallResult(result, 0);

    [StructLayout(LayoutKind.Sequential)]
    public struct WSABUF
    {
        public uint len;
        public byte* buf;
    }

    /// <summary>WSADATA is 408 bytes on x64; only its presence matters here.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 408)]
    public struct WSADATA
    {
        public ushort wVersion;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct linger
    {
        public ushort l_onoff;
        public ushort l_linger;
    }

    [LibraryImport(Name, SetLastError = true)]
    public static partial int WSAStartup(ushort version, WSADATA* data);

    [LibraryImport(Name, EntryPoint = "WSASocketW", SetLastError = true)]
    public static partial nint WSASocket(int af, int type, int protocol, void* info, uint group, uint flags);

    [LibraryImport(Name, SetLastError = true)]
    public static partial int closesocket(nint s);

    [LibraryImport(Name, SetLastError = true)]
    public static partial int bind(nint s, void* addr, int addrlen);

    [LibraryImport(Name, SetLastError = true)]
    public static partial int listen(nint s, int backlog);

    [LibraryImport(Name, SetLastError = true)]
    public static partial int ioctlsocket(nint s, uint cmd, uint* argp);

    [LibraryImport(Name, SetLastError = true)]
    public static partial int setsockopt(nint s, int level, int optname, void* optval, int optlen);

    [LibraryImport(Name, SetLastError = true)]
    public static partial int getsockopt(nint s, int level, int optname, void* optval, int* optlen);

    [LibraryImport(Name, SetLastError = true)]
    public static partial int getsockname(nint s, void* addr, int* addrlen);

    [LibraryImport(Name, SetLastError = true)]
    public static partial int getpeername(nint s, void* addr, int* addrlen);

    [LibraryImport(Name, SetLastError = true)]
    public static partial int connect(nint s, void* addr, int addrlen);

    [LibraryImport(Name, SetLastError = true)]
    public static partial int recv(nint s, void* buf, int len, int flags);

    [LibraryImport(Name, SetLastError = true)]
    public static partial int send(nint s, void* buf, int len, int flags);

    [LibraryImport(Name, SetLastError = true)]
    public static partial int recvfrom(nint s, void* buf, int len, int flags, void* from, int* fromlen);

    [LibraryImport(Name, SetLastError = true)]
    public static partial int sendto(nint s, void* buf, int len, int flags, void* to, int tolen);

    [LibraryImport(Name, SetLastError = true)]
    public static partial int shutdown(nint s, int how);

    [LibraryImport(Name, SetLastError = true)]
    public static partial int WSAIoctl(nint s, uint code, void* inBuffer, uint inLength, void* outBuffer, uint outLength,
        uint* bytesReturned, NativeOverlapped* overlapped, void* completion);

    [LibraryImport(Name, SetLastError = true)]
    public static partial int WSARecv(nint s, WSABUF* buffers, uint count, uint* received, uint* flags,
        NativeOverlapped* overlapped, void* completion);

    [LibraryImport(Name, SetLastError = true)]
    public static partial int WSASend(nint s, WSABUF* buffers, uint count, uint* sent, uint flags,
        NativeOverlapped* overlapped, void* completion);

    [LibraryImport(Name, SetLastError = true)]
    public static partial int WSARecvFrom(nint s, WSABUF* buffers, uint count, uint* received, uint* flags,
        void* from, int* fromLength, NativeOverlapped* overlapped, void* completion);

    [LibraryImport(Name, SetLastError = true)]
    public static partial int WSASendTo(nint s, WSABUF* buffers, uint count, uint* sent, uint flags,
        void* to, int toLength, NativeOverlapped* overlapped, void* completion);

    [LibraryImport(Name, SetLastError = true)]
    public static partial int WSAGetOverlappedResult(nint s, NativeOverlapped* overlapped, uint* transferred, int wait, uint* flags);

    /// <summary>An interface's index by name (iphlpapi.dll); 0 when there is no such interface.</summary>
    [LibraryImport("iphlpapi.dll", StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint if_nametoindex(string name);

    public static int SetIntOption(nint s, int level, int name, int value) => setsockopt(s, level, name, &value, sizeof(int));

    /// <summary>An extension function of the provider behind <paramref name="s"/> (AcceptEx,
    /// ConnectEx), looked up by its GUID; null when the provider has none.</summary>
    public static void* ExtensionFunction(nint s, Guid id)
    {
        void* function = null;
        uint returned;
        return WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, (uint)sizeof(Guid), &function, (uint)sizeof(void*),
            &returned, null, null) == 0 ? function : null;
    }

    public static readonly Guid WSAID_ACCEPTEX = new(0xb5367df1, 0xcbac, 0x11cf, 0x95, 0xca, 0x00, 0x80, 0x5f, 0x48, 0xa1, 0x92);
    public static readonly Guid WSAID_CONNECTEX = new(0x25a207b9, 0xddf3, 0x4660, 0x8e, 0xe9, 0x76, 0xe5, 0x8c, 0x74, 0x06, 0x3e);
}
