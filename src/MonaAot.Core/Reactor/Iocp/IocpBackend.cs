using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using MonaAot.Interop;

namespace MonaAot.Reactor.Iocp;

/// <summary>
/// The Windows backend: one I/O completion port. Readiness to read is a zero-byte WSARecv per
/// socket, posted again before each wait once its handler has run (so a handler that read
/// everything is not woken for nothing); the handler then reads with non-blocking recv into the
/// shared buffer, exactly as on Linux, and idle connections own no buffer. What cannot be
/// expressed as readiness (sends the kernel did not take at once, connects, accepts) the
/// Windows socket code posts itself (Net/IocpSocketOperations.Windows.cs) in operation blocks
/// it takes from here (<see cref="NewOperation(IocpOperationKind, nint, int)"/>) and hands
/// back once posted (<see cref="Posted(IocpOperation*, bool, int, int)"/>); the backend turns
/// their completions into events. Sockets are set to skip the port on inline success; such
/// results are queued here and returned by the next <see cref="Wait"/>, never delivered from
/// inside the call that posted them. The cross-thread wake is PostQueuedCompletionStatus with a
/// key no socket uses.
/// </summary>
[SupportedOSPlatform("windows")]
public sealed unsafe class IocpBackend : IIoBackend
{
    private const nuint WakeKey = 1;
    private const int MaxEntries = 256;

    private sealed class SocketState(ulong token, IoEvents interest)
    {
        public ulong Token = token;
        public IoEvents Interest = interest;
        public IocpOperation* Readiness;
        public bool ReadinessPosted;
        /// <summary>A UDP socket: its zero-byte read peeks, or it would consume a datagram.</summary>
        public bool Datagram;
        /// <summary>The port skips this socket's inline successes. When the mode could not be set
        /// (an old layered provider, say), an inline success still queues its packet, so it is
        /// left to that packet like a pending operation.</summary>
        public bool SkipOnSuccess;
        public readonly List<nint> InFlight = new(); // every posted operation but the readiness one
    }

    private readonly nint _port;
    private readonly Dictionary<nint, SocketState> _sockets = new();
    private readonly Queue<IoEvent> _inline = new();
    private List<nint> _toArm = new();
    private List<nint> _arming = new();
    // Native memory: the kernel fills it during a blocking wait, which a managed array would
    // have to stay pinned across.
    private Kernel32.OVERLAPPED_ENTRY* _entries =
        (Kernel32.OVERLAPPED_ENTRY*)NativeMemory.Alloc(MaxEntries, (nuint)sizeof(Kernel32.OVERLAPPED_ENTRY));
    // Wake comes from any thread, also after Dispose: the lock orders each post against the
    // close, so that none reaches the handle value once it is closed (and maybe reused).
    private readonly System.Threading.Lock _wakeLock = new();
    private bool _portClosed;
    private int _live;    // operation blocks allocated and not freed
    private int _orphans; // of which belong to closed sockets, awaiting their cancelled completion

    static IocpBackend()
    {
        Winsock.WSADATA data;
        int error = Winsock.WSAStartup(0x0202, &data);
        if (error != 0)
            throw new InvalidOperationException($"WSAStartup failed (error {error})");
    }

    public IocpBackend()
    {
        _port = Kernel32.CreateIoCompletionPort(-1, 0, 0, 1);
        int error = Kernel32.ErrorUnless(_port);
        if (error != 0)
        {
            NativeMemory.Free(_entries);
            throw new InvalidOperationException($"CreateIoCompletionPort failed (error {error})");
        }
    }

    public void Attach(nint handle, ulong token, IoEvents interest)
    {
        int error = Kernel32.ErrorUnless(Kernel32.CreateIoCompletionPort(handle, _port, 0, 0));
        if (error != 0)
            throw new InvalidOperationException($"CreateIoCompletionPort(socket) failed (error {error})");
        bool skip = Kernel32.SetFileCompletionNotificationModes(handle,
            Kernel32.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS | Kernel32.FILE_SKIP_SET_EVENT_ON_HANDLE) != 0;
        int type = 0, length = sizeof(int);
        Winsock.getsockopt(handle, Winsock.SOL_SOCKET, Winsock.SO_TYPE, &type, &length);
        var state = new SocketState(token, interest)
        {
            Readiness = NewOperation(IocpOperationKind.Readiness, token, handle, 0),
            Datagram = type == Winsock.SOCK_DGRAM,
            SkipOnSuccess = skip,
        };
        _sockets[handle] = state;
        if ((interest & IoEvents.Readable) != 0)
            _toArm.Add(handle);
    }

    /// <summary>Only the interest in reading matters here: writes, connects and accepts are
    /// posted as operations instead of being waited for.</summary>
    public void Change(nint handle, ulong token, IoEvents interest)
    {
        if (!_sockets.TryGetValue(handle, out SocketState? state))
            return;
        state.Interest = interest;
        if ((interest & IoEvents.Readable) != 0 && !state.ReadinessPosted)
            _toArm.Add(handle);
    }

    /// <summary>Cancels what is in flight; the blocks are freed when their completions come.</summary>
    public void Detach(nint handle)
    {
        if (!_sockets.Remove(handle, out SocketState? state))
            return;
        bool cancel = state.InFlight.Count > 0 || state.ReadinessPosted;
        foreach (nint op in state.InFlight)
            ((IocpOperation*)op)->Orphaned = 1;
        _orphans += state.InFlight.Count;
        if (state.ReadinessPosted)
        {
            state.Readiness->Orphaned = 1;
            _orphans++;
        }
        else
            Release(state.Readiness);
        if (cancel)
            Kernel32.CancelIoEx(handle, null);
    }

    public int Wait(Span<IoEvent> events, int timeoutMs)
    {
        ArmReadiness();
        int count = 0;
        while (count < events.Length && _inline.TryDequeue(out IoEvent ready))
            events[count++] = ready;
        if (count == events.Length)
            return count;
        uint wait = count > 0 || _inline.Count > 0 ? 0 : timeoutMs < 0 ? Kernel32.INFINITE : (uint)timeoutMs;
        return count + DequeueCompletions(events[count..], wait);
    }

    /// <summary>Takes up to <paramref name="events"/>.Length completions off the port, waiting
    /// at most <paramref name="waitMs"/> for the first; returns how many events they made
    /// (none for the wake and for operations of closed sockets, whose blocks are freed).</summary>
    private int DequeueCompletions(Span<IoEvent> events, uint waitMs)
    {
        uint removed;
        int error = Kernel32.ErrorUnless(
            Kernel32.GetQueuedCompletionStatusEx(_port, _entries, (uint)Math.Min(events.Length, MaxEntries), &removed, waitMs, 0));
        if (error != 0)
        {
            if (error == Kernel32.WAIT_TIMEOUT)
                return 0;
            // The loop cannot go on without its port: a broken invariant, not a runtime error.
            Environment.FailFast($"GetQueuedCompletionStatusEx failed (error {error})");
        }
        int count = 0;
        for (int i = 0; i < removed; i++)
        {
            ref Kernel32.OVERLAPPED_ENTRY entry = ref _entries[i]; // i < removed <= MaxEntries
            if (entry.lpOverlapped == null)
                continue; // the wake
            if (Complete((IocpOperation*)entry.lpOverlapped, (int)entry.Internal < 0, (int)entry.dwNumberOfBytesTransferred, out IoEvent ev))
                events[count++] = ev;
        }
        return count;
    }

    /// <summary>Any thread, also after <see cref="Dispose"/> (then it does nothing).</summary>
    public void Wake()
    {
        lock (_wakeLock)
        {
            if (!_portClosed)
                Kernel32.PostQueuedCompletionStatus(_port, 0, WakeKey, null);
        }
    }

    /// <summary>An accept whose listener was closed before its event ran: the socket it
    /// brought has no owner, so it is closed here.</summary>
    public void Discard(in IoEvent ev)
    {
        if ((ev.Events & IoEvents.Completed) != 0 && (ev.Events & IoEvents.Readable) != 0 && ev.Data != 0)
            Winsock.closesocket(ev.Data);
    }

    /// <summary>Operation blocks alive: those in flight, plus one readiness block per socket.</summary>
    internal int LiveOperations => _live;

    /// <summary>Waits (up to a second) for the cancelled operations of closed sockets to come
    /// back, so that their blocks are freed after the kernel is done with them, then closes the
    /// port. Loop thread, after the loop has stopped; a second call does nothing.</summary>
    public void Dispose()
    {
        if (_entries == null)
            return;
        long deadline = Environment.TickCount64 + 1000;
        var late = new IoEvent[MaxEntries]; // of sockets still attached: no handler runs them now
        while (_orphans > 0 && Environment.TickCount64 < deadline)
        {
            int count = DequeueCompletions(late, 100);
            for (int i = 0; i < count; i++)
                Discard(in late[i]);
        }
        lock (_wakeLock)
        {
            _portClosed = true;
            Kernel32.CloseHandle(_port);
        }
        NativeMemory.Free(_entries);
        _entries = null;
    }

    private IocpOperation* NewOperation(IocpOperationKind kind, ulong token, nint socket, int payload)
    {
        _live++;
        return IocpOperation.Allocate(kind, token, socket, payload);
    }

    private void Release(IocpOperation* op)
    {
        _live--;
        if (op->Orphaned != 0)
            _orphans--;
        IocpOperation.Free(op);
    }

    /// <summary>
    /// A new operation block of <paramref name="kind"/> on an attached socket, carrying its
    /// handler's token, with <paramref name="payload"/> bytes of the caller's after it (a send's
    /// copy of its bytes, AcceptEx's addresses). The caller posts it and then hands it to
    /// <see cref="Posted(IocpOperation*, bool, int, int)"/> whatever the post's outcome; from
    /// then on the block is the backend's, which frees it after its completion. Its completion
    /// comes to the socket's handler as: Send, Completed|Writable with the bytes sent (or a
    /// negative errno) and the length posted (<see cref="IocpOperation.Buffer"/>) in
    /// <see cref="IoEvent.Data"/>; Connect, Writable with 0 or a negative errno; Accept,
    /// Completed|Readable with the accepted socket (<see cref="IocpOperation.AcceptSocket"/>,
    /// its context updated) in <see cref="IoEvent.Data"/>, or Completed|Error.
    /// </summary>
    internal IocpOperation* NewOperation(IocpOperationKind kind, nint socket, int payload) =>
        NewOperation(kind, _sockets[socket].Token, socket, payload);

    /// <summary>Takes back a block made by <see cref="NewOperation(IocpOperationKind, nint, int)"/>
    /// once it was posted (<paramref name="succeeded"/>: the call's result, <paramref name="bytes"/>
    /// what it reported done inline) or could not be (<paramref name="error"/>: the Windows error,
    /// taken with the call's result; ERROR_IO_PENDING when pending).</summary>
    internal void Posted(IocpOperation* op, bool succeeded, int bytes, int error) =>
        Posted(_sockets[op->Socket], op, succeeded, bytes, error);

    /// <summary>After a post: an inline success (no packet will come, the socket skips the port
    /// on success) or an immediate failure is queued for the next wait; a pending one is tracked.
    /// <paramref name="error"/>: the Windows error of a failed post, taken with its result.</summary>
    private void Posted(SocketState state, IocpOperation* op, bool succeeded, int bytes, int error)
    {
        if (op->Kind == IocpOperationKind.Readiness)
            state.ReadinessPosted = true;
        else
            state.InFlight.Add((nint)op);
        // Pending, or an inline success whose packet the port queues anyway: the packet ends it.
        if ((!succeeded && error == Winsock.ERROR_IO_PENDING) || (succeeded && !state.SkipOnSuccess))
            return;
        if (Finish(op, succeeded ? 0 : WindowsErrors.ToErrno(error), bytes, out IoEvent ev))
            _inline.Enqueue(ev);
    }

    /// <summary>A completion from the port; false when it belongs to a closed socket.</summary>
    private bool Complete(IocpOperation* op, bool failed, int bytes, out IoEvent ev)
    {
        int errno = 0;
        if (failed && op->Orphaned == 0)
        {
            // The status is an NTSTATUS (an error when negative); Winsock says which error.
            uint transferred, flags;
            int error = Kernel32.ErrorUnless(Winsock.WSAGetOverlappedResult(op->Socket, &op->Overlapped, &transferred, 0, &flags));
            if (error != 0)
                errno = WindowsErrors.ToErrno(error);
        }
        return Finish(op, errno, bytes, out ev);
    }

    private bool Finish(IocpOperation* op, int errno, int bytes, out IoEvent ev)
    {
        ev = default;
        if (op->Orphaned != 0)
        {
            Release(op);
            return false;
        }
        SocketState state = _sockets[op->Socket];
        switch (op->Kind)
        {
            case IocpOperationKind.Readiness:
                state.ReadinessPosted = false;
                // A zero-byte peek at a datagram reports it as too large for the buffer: that
                // is the datagram being there.
                if (state.Datagram && errno == Libc.EMSGSIZE)
                    errno = 0;
                // Again before the next wait, after the handler ran. A TCP error ends the
                // connection; a UDP one concerns one datagram (its recvfrom clears it), except
                // on a socket not bound yet, which its first send binds (it asks again then).
                if (errno == 0 || (state.Datagram && errno != Libc.EINVAL))
                    _toArm.Add(op->Socket);
                ev = new IoEvent(op->Token, errno == 0 ? IoEvents.Readable : IoEvents.Readable | IoEvents.Error, -errno);
                return true;
            case IocpOperationKind.Send:
                state.InFlight.Remove((nint)op);
                ev = new IoEvent(op->Token, IoEvents.Completed | IoEvents.Writable, errno == 0 ? bytes : -errno, (nint)op->Buffer.len);
                Release(op);
                return true;
            case IocpOperationKind.Connect:
                state.InFlight.Remove((nint)op);
                if (errno == 0)
                    Winsock.setsockopt(op->Socket, Winsock.SOL_SOCKET, Winsock.SO_UPDATE_CONNECT_CONTEXT, null, 0);
                ev = new IoEvent(op->Token, IoEvents.Writable, -errno);
                Release(op);
                return true;
            default:
                state.InFlight.Remove((nint)op);
                nint accepted = -1;
                if (errno == 0)
                {
                    nint listener = op->Socket;
                    accepted = op->AcceptSocket;
                    op->AcceptSocket = -1; // handed over
                    Winsock.setsockopt(accepted, Winsock.SOL_SOCKET, Winsock.SO_UPDATE_ACCEPT_CONTEXT, &listener, sizeof(nint));
                }
                ev = new IoEvent(op->Token, errno == 0 ? IoEvents.Completed | IoEvents.Readable : IoEvents.Completed | IoEvents.Error,
                    -errno, accepted);
                Release(op);
                return true;
        }
    }

    /// <summary>Posts the zero-byte reads asked for since the last wait.</summary>
    private void ArmReadiness()
    {
        if (_toArm.Count == 0)
            return;
        (_arming, _toArm) = (_toArm, _arming);
        foreach (nint socket in _arming)
        {
            if (!_sockets.TryGetValue(socket, out SocketState? state) || state.ReadinessPosted
                || (state.Interest & IoEvents.Readable) == 0)
                continue;
            IocpOperation* op = state.Readiness;
            op->Reset();
            op->Buffer = default;
            uint received, flags = 0;
            CallResult result;
            if (state.Datagram)
            {
                flags = Winsock.MSG_PEEK; // a zero-byte read would consume the datagram
                result = Winsock.Checked(Winsock.WSARecvFrom(socket, &op->Buffer, 1, &received, &flags, null, null, &op->Overlapped, null));
            }
            else
            {
                result = Winsock.Checked(Winsock.WSARecv(socket, &op->Buffer, 1, &received, &flags, &op->Overlapped, null));
            }
            Posted(state, op, !result.Failed, 0, result.Error);
        }
        _arming.Clear();
    }
}
