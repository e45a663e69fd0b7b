using System;
using System.Runtime.InteropServices;
using MonaAot.Interop;

namespace MonaAot.Net;

/// <summary>
/// The native memory recvmmsg and sendmmsg work on: <see cref="Count"/> message headers, each
/// with one slot large enough for any datagram and room for its peer address. One per loop,
/// shared by all UDP sockets (only one of them reads or flushes at a time), allocated the first
/// time a UDP socket needs it; pages are touched only as datagrams arrive.
/// </summary>
internal sealed unsafe class UdpBatch : IDisposable
{
    // 64, as the C reference: at 16, with four batches per readiness event, a stream took 8
    // syscalls per 64 datagrams where one recvmmsg and one sendmmsg do (docs/performance.md,
    // "Issue 19: CPU per message"). Pages are touched per slot used: 64 x 4 KiB for small datagrams.
    public const int Count = 64;
    private const int SlotSize = 65_536;

    public UdpBatch()
    {
        Buffers = (byte*)NativeMemory.Alloc(Count * SlotSize);
        Headers = (Libc.mmsghdr*)NativeMemory.AllocZeroed((nuint)(Count * sizeof(Libc.mmsghdr)));
        Vectors = (Libc.iovec*)NativeMemory.AllocZeroed((nuint)(Count * sizeof(Libc.iovec)));
        Senders = (NetAddress*)NativeMemory.AllocZeroed((nuint)(Count * sizeof(NetAddress)));
        Recipients = (NetAddress*)NativeMemory.AllocZeroed((nuint)(Count * sizeof(NetAddress)));
    }

    public byte* Buffers { get; }
    public Libc.mmsghdr* Headers { get; }
    public Libc.iovec* Vectors { get; }
    public NetAddress* Senders { get; }
    public NetAddress* Recipients { get; }

    public byte* Slot(int index) => Buffers + index * SlotSize;

    /// <summary>Ready for recvmmsg: every slot empty, every address field its full size.</summary>
    public void Reset()
    {
        for (int i = 0; i < Count; i++)
        {
            Vectors[i] = new Libc.iovec { iov_base = Slot(i), iov_len = SlotSize };
            Headers[i] = new Libc.mmsghdr
            {
                msg_hdr = new Libc.msghdr { msg_name = &Senders[i], msg_namelen = (uint)sizeof(Libc.sockaddr_in6), msg_iov = &Vectors[i], msg_iovlen = 1 },
            };
        }
    }

    /// <summary>Entry <paramref name="index"/> for sendmmsg: the datagram's bytes where they are,
    /// and its recipient (null on a connected socket).</summary>
    public void PrepareSend(int index, byte* data, int length, NetAddress* recipient)
    {
        Vectors[index] = new Libc.iovec { iov_base = data, iov_len = (nuint)length };
        Headers[index] = new Libc.mmsghdr
        {
            msg_hdr = new Libc.msghdr
            {
                msg_name = recipient,
                msg_namelen = recipient == null ? 0 : recipient->Length,
                msg_iov = &Vectors[index],
                msg_iovlen = 1,
            },
        };
    }

    public void Dispose()
    {
        NativeMemory.Free(Buffers);
        NativeMemory.Free(Headers);
        NativeMemory.Free(Vectors);
        NativeMemory.Free(Senders);
        NativeMemory.Free(Recipients);
    }
}
