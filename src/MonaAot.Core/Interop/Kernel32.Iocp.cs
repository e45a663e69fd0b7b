using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Threading;

namespace MonaAot.Interop;

/// <summary>The completion-port calls of kernel32 (ioapiset.h, winbase.h).</summary>
[SupportedOSPlatform("windows")]
internal static unsafe partial class Kernel32
{
    private const string Name = "kernel32.dll";

    public const byte FILE_SKIP_COMPLETION_PORT_ON_SUCCESS = 0x1;
    public const byte FILE_SKIP_SET_EVENT_ON_HANDLE = 0x2;
    public const uint INFINITE = 0xFFFFFFFF;
    public const int WAIT_TIMEOUT = 258;

    /// <summary>0 when <paramref name="result"/> (a BOOL or a handle) is non-zero, else the last
    /// error of the import that returned it (kept by its SetLastError stub), read in the
    /// expression that made the call, before another import can replace it.</summary>
    public static int ErrorUnless(nint result) => result != 0 ? 0 : Marshal.GetLastPInvokeError();

    [StructLayout(LayoutKind.Sequential)]
    public struct OVERLAPPED_ENTRY
    {
        public nuint lpCompletionKey;
        public NativeOverlapped* lpOverlapped;
        public nuint Internal;
        public uint dwNumberOfBytesTransferred;
    }

    [LibraryImport(Name, SetLastError = true)]
    public static partial nint CreateIoCompletionPort(nint fileHandle, nint existingPort, nuint key, uint threads);

    [LibraryImport(Name, SetLastError = true)]
    public static partial int GetQueuedCompletionStatusEx(nint port, OVERLAPPED_ENTRY* entries, uint count, uint* removed,
        uint milliseconds, int alertable);

    [LibraryImport(Name, SetLastError = true)]
    public static partial int PostQueuedCompletionStatus(nint port, uint bytes, nuint key, NativeOverlapped* overlapped);

    [LibraryImport(Name, SetLastError = true)]
    public static partial int SetFileCompletionNotificationModes(nint handle, byte flags);

    [LibraryImport(Name, SetLastError = true)]
    public static partial int CancelIoEx(nint handle, NativeOverlapped* overlapped);

    [LibraryImport(Name, SetLastError = true)]
    public static partial int CloseHandle(nint handle);
}
