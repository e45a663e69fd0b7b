using System;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Threading;
using MonaAot.Interop;
using MonaAot.Reactor.Iocp;

namespace MonaAot.Net;

/// <summary>
/// What the Windows socket code posts to the loop's completion port instead of waiting for
/// readiness, which IOCP cannot report for these: sends the kernel did not take at once
/// (WSASend, WSASendTo), connects (ConnectEx) and accepts (AcceptEx). Each takes an operation
/// block from the backend, posts it, and hands it back with the call's outcome
/// (<see cref="IocpBackend.Posted"/>); the completion reaches the socket's handler as the event
/// <see cref="IocpBackend.NewOperation(IocpOperationKind, nint, int)"/> describes, on a later
/// turn even when the call finished inline.
/// </summary>
[SupportedOSPlatform("windows")]
internal static unsafe class IocpSocketOperations
{
    // Extension functions, looked up once per process: every TCP provider here is the same
    // one. Loops on other threads may look them up together; they store the same pointer.
    private static void* s_connectEx;
    private static void* s_acceptEx;

    /// <summary>
    /// A send of <paramref name="length"/> bytes, to be written by the caller into the returned
    /// buffer (the operation's own block: the caller's buffers may change or go away before
    /// the send completes), then posted with <see cref="PostSend"/>.
    /// </summary>
    public static byte* PrepareSend(IocpBackend iocp, nint socket, int length, out IocpOperation* operation)
    {
        IocpOperation* op = iocp.NewOperation(IocpOperationKind.Send, socket, length);
        op->Buffer = new Winsock.WSABUF { len = (uint)length, buf = op->Payload };
        operation = op;
        return op->Payload;
    }

    public static void PostSend(IocpBackend iocp, IocpOperation* op)
    {
        uint sent;
        CallResult result = Winsock.Checked(Winsock.WSASend(op->Socket, &op->Buffer, 1, &sent, 0, &op->Overlapped, null));
        iocp.Posted(op, !result.Failed, result.Failed ? 0 : (int)sent, result.Error);
    }

    /// <summary>Posts one datagram to <paramref name="recipient"/> (null: the connected peer),
    /// copied into the operation's block like <see cref="PrepareSend"/>'s bytes.</summary>
    public static void PostSendTo(IocpBackend iocp, nint socket, ReadOnlySpan<byte> data, NetAddress* recipient)
    {
        IocpOperation* op = iocp.NewOperation(IocpOperationKind.Send, socket, sizeof(NetAddress) + data.Length);
        byte* bytes = op->Payload + sizeof(NetAddress); // the address first, then the datagram
        data.CopyTo(new Span<byte>(bytes, data.Length));
        op->Buffer = new Winsock.WSABUF { len = (uint)data.Length, buf = bytes };
        uint sent;
        CallResult result;
        if (recipient == null)
        {
            result = Winsock.Checked(Winsock.WSASend(socket, &op->Buffer, 1, &sent, 0, &op->Overlapped, null));
        }
        else
        {
            var to = (NetAddress*)op->Payload;
            *to = *recipient;
            result = Winsock.Checked(Winsock.WSASendTo(socket, &op->Buffer, 1, &sent, 0, to, (int)to->Length, &op->Overlapped, null));
        }
        iocp.Posted(op, !result.Failed, result.Failed ? 0 : (int)sent, result.Error);
    }

    /// <summary>Connects with ConnectEx (the socket is bound to the wildcard first, as ConnectEx
    /// requires).</summary>
    public static void PostConnect(IocpBackend iocp, nint socket, NetAddress* address)
    {
        IocpOperation* op = iocp.NewOperation(IocpOperationKind.Connect, socket, 0);
        NetAddress any = NetAddress.Any(address->Family);
        void* connectEx = s_connectEx = s_connectEx != null ? s_connectEx : Winsock.ExtensionFunction(socket, Winsock.WSAID_CONNECTEX);
        CallResult bound = connectEx == null ? default : Winsock.Checked(Winsock.bind(socket, &any, (int)any.Length));
        if (bound.Failed || connectEx == null)
        {
            iocp.Posted(op, false, 0, connectEx == null ? Winsock.WSAEOPNOTSUPP : bound.Error);
            return;
        }
        var call = (delegate* unmanaged<nint, void*, int, void*, uint, uint*, NativeOverlapped*, int>)connectEx;
        int ok = call(socket, address, (int)address->Length, null, 0, null, &op->Overlapped);
        // A call through a function pointer keeps no last error for GetLastPInvokeError: read
        // the thread's own at once (ERROR_IO_PENDING, most of the time).
        iocp.Posted(op, ok != 0, 0, ok != 0 ? 0 : Marshal.GetLastSystemError());
    }

    /// <summary>Posts an AcceptEx on a listening socket into a new socket of
    /// <paramref name="family"/>, which its block owns until the completion hands it over.
    /// Returns 0, or the errno of the socket that could not be made for it (nothing was posted
    /// then).</summary>
    public static int PostAccept(IocpBackend iocp, nint listener, int family)
    {
        CallResult opened = SocketCalls.OpenStream(family);
        if (opened.Failed)
            return opened.Error;
        nint accepted = opened.Value;
        IocpOperation* op = iocp.NewOperation(IocpOperationKind.Accept, listener, 2 * IocpOperation.AcceptAddressLength);
        op->AcceptSocket = accepted;
        void* acceptEx = s_acceptEx = s_acceptEx != null ? s_acceptEx : Winsock.ExtensionFunction(listener, Winsock.WSAID_ACCEPTEX);
        if (acceptEx == null)
        {
            iocp.Posted(op, false, 0, Winsock.WSAEOPNOTSUPP);
            return 0;
        }
        uint received;
        var call = (delegate* unmanaged<nint, nint, void*, uint, uint, uint, uint*, NativeOverlapped*, int>)acceptEx;
        int ok = call(listener, accepted, op->Payload, 0, IocpOperation.AcceptAddressLength, IocpOperation.AcceptAddressLength,
            &received, &op->Overlapped);
        iocp.Posted(op, ok != 0, 0, ok != 0 ? 0 : Marshal.GetLastSystemError()); // as for ConnectEx
        return 0;
    }
}
