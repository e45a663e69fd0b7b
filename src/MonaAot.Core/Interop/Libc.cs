using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace MonaAot.Interop;

/// <summary>Shared constants of the libc interop files (one file per C header, C names verbatim).
/// The errno values double as the socket code's error vocabulary on both systems
/// (Net/SocketCalls.cs), and every failure's errno comes with its result (<see cref="Checked"/>); the functions are marked as not on Windows, so the analyzer proves
/// that every call is behind a check of the OS.</summary>
internal static partial class Libc
{
    public const string Name = "libc";

    // errno values used by the reactor (asm-generic/errno-base.h, same on x64 and arm64).
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EBADF = 9;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int EACCES = 13;
    public const int EINVAL = 22;
    public const int ENFILE = 23;
    public const int EMFILE = 24;
    public const int EPIPE = 32;
    public const int EAFNOSUPPORT = 97;
    public const int EADDRINUSE = 98;
    public const int EADDRNOTAVAIL = 99;
    public const int ENETUNREACH = 101;
    public const int ECONNABORTED = 103;
    public const int ECONNRESET = 104;
    public const int ENOBUFS = 105;
    public const int ETIMEDOUT = 110;
    public const int ECONNREFUSED = 111;
    public const int EHOSTUNREACH = 113;
    public const int EINPROGRESS = 115;

    // More errno values NetError classifies (asm-generic/errno.h, same on x64 and arm64).
    public const int EPERM = 1;
    public const int EFAULT = 14;
    public const int ENODEV = 19;
    public const int ENONET = 64;
    public const int EPROTO = 71;
    public const int ENOTSOCK = 88;
    public const int EPROTOTYPE = 91;
    public const int ENOPROTOOPT = 92;
    public const int EPROTONOSUPPORT = 93;
    public const int EOPNOTSUPP = 95;
    public const int ENETDOWN = 100;
    public const int ENETRESET = 102;
    public const int ENOTCONN = 107;
    public const int EHOSTDOWN = 112;
    public const int EALREADY = 114;

    /// <summary>
    /// <paramref name="result"/> with errno when it is negative, read here, in the expression that
    /// made the call (<c>Libc.Checked(Libc.send(...))</c>). The imports do not use SetLastError:
    /// its stub clears errno before and copies it after every call, extra work on each send and
    /// recv where only a failure needs errno. errno is not read anywhere else, so no caller can
    /// read it late, after another call (or an allocation) changed it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static CallResult Checked(nint result) =>
        result < 0 ? new CallResult(result, Marshal.GetLastSystemError()) : new CallResult(result, 0);
}
