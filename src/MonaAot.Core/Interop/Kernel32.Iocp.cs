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
