using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace MonaAot.Interop;

/// <summary>sys/eventfd.h</summary>
internal static partial class Libc
{
    public const int EFD_CLOEXEC = 0x80000;
    public const int EFD_NONBLOCK = 0x800;

    [UnsupportedOSPlatform("windows")]

    [LibraryImport(Name, EntryPoint = "eventfd")]
    public static partial int eventfd(uint initval, int flags);
}
