using System.Runtime.InteropServices;

namespace MonaAot.Interop;

/// <summary>Shared constants of the libc interop files (one file per C header, C names verbatim).</summary>
internal static partial class Libc
{
    public const string Name = "libc";

    // errno values used by the reactor (asm-generic/errno-base.h, same on x64 and arm64).
    public const int EINTR = 4;
    public const int EAGAIN = 11;

    public static int LastErrno => Marshal.GetLastPInvokeError();
}
