using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Threading;
using MonaAot.Interop;

namespace MonaAot.Reactor.Iocp;

/// <summary>What an overlapped operation was posted for.</summary>
internal enum IocpOperationKind
{
    /// <summary>A zero-byte WSARecv: completes when the socket has data (or its end) to read.</summary>
    Readiness,
    /// <summary>A WSASend of bytes copied into the operation's own block.</summary>
    Send,
    Connect,
    Accept,
}

/// <summary>
/// One overlapped operation, in native memory: the OVERLAPPED comes first, so the pointer the
/// port hands back is the block. It carries the token of its socket's handler, never an object
/// reference. A Send block is followed by its bytes, an Accept block by AcceptEx's address
/// buffer. A block whose socket was closed while it was in flight is marked orphaned and freed
/// only when its (cancelled) completion arrives: the kernel owns it until then.
/// </summary>
[SupportedOSPlatform("windows")]
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct IocpOperation
{
    public NativeOverlapped Overlapped;
    public ulong Token;
    public nint Socket;
    public IocpOperationKind Kind;
    public int Orphaned;
    /// <summary>The socket AcceptEx accepts into; owned by the block until handed over.</summary>
    public nint AcceptSocket;
    public Winsock.WSABUF Buffer;

    /// <summary>AcceptEx needs room for both addresses, each 16 bytes more than the largest.</summary>
    public const int AcceptAddressLength = 28 + 16;

    public byte* Payload => (byte*)Unsafe.AsPointer(ref this) + sizeof(IocpOperation);

    public static IocpOperation* Allocate(IocpOperationKind kind, ulong token, nint socket, int payload)
    {
        var op = (IocpOperation*)NativeMemory.AllocZeroed((nuint)(sizeof(IocpOperation) + payload));
        op->Kind = kind;
        op->Token = token;
        op->Socket = socket;
        op->AcceptSocket = -1;
        return op;
    }

    /// <summary>Ready to be posted again: the OVERLAPPED must be zero for each new operation.</summary>
    public void Reset() => Overlapped = default;

    public static void Free(IocpOperation* op)
    {
        if (op->AcceptSocket != -1)
            Winsock.closesocket(op->AcceptSocket);
        NativeMemory.Free(op);
    }
}
