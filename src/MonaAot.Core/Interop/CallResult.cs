using System.Runtime.CompilerServices;

namespace MonaAot.Interop;

/// <summary>
/// What a system call returned and, when it failed, its error, captured by the wrapper in the
/// same expression as the call (<see cref="Libc.Checked"/>, <see cref="Winsock.Checked"/>), so
/// that no code can run between the two and change errno or the last error. A failure is a
/// negative value (-1: libc, SOCKET_ERROR and INVALID_SOCKET alike). Returned by value: 16
/// bytes, in two registers on x64 Linux, no allocation.
/// </summary>
internal readonly struct CallResult
{
    public CallResult(nint value, int error)
    {
        Value = value;
        Error = error;
    }

    /// <summary>The call's return value (bytes, a descriptor, 0 for success).</summary>
    public nint Value { get; }

    /// <summary>The error when <see cref="Failed"/> (an errno value, or a Windows code where the
    /// caller is Windows code), 0 otherwise.</summary>
    public int Error { get; }

    public bool Failed
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Value < 0;
    }
}
