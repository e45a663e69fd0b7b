using System.Runtime.InteropServices;
using MonaAot.Interop;

namespace MonaAot.Net;

/// <summary>
/// Runtime failures as the one readable line SPEC 1 asks for, e.g.
/// "connection refused (127.0.0.1:9)". Built only when a failure happens, never per message.
/// </summary>
public static class NetError
{
    public static string Describe(int errno) => errno switch
    {
        Libc.ECONNREFUSED => "connection refused",
        Libc.ECONNRESET => "connection reset by peer",
        Libc.EPIPE => "connection reset by peer",
        Libc.ECONNABORTED => "connection aborted",
        Libc.ETIMEDOUT => "connection timed out",
        Libc.ENETUNREACH => "network unreachable",
        Libc.EHOSTUNREACH => "host unreachable",
        Libc.EADDRINUSE => "address in use",
        Libc.EADDRNOTAVAIL => "address not available",
        Libc.EACCES => "permission denied",
        Libc.EMFILE => "too many open files",
        Libc.ENFILE => "too many open files in the system",
        Libc.EAFNOSUPPORT => "address family not supported",
        _ => LowerFirst(Marshal.GetPInvokeErrorMessage(errno)),
    };

    public static string Describe(int errno, string address) => $"{Describe(errno)} ({address})";

    private static string LowerFirst(string text) =>
        text.Length > 0 && char.IsUpper(text[0]) ? char.ToLowerInvariant(text[0]) + text[1..] : text;
}
