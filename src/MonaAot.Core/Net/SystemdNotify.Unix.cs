using System;
using System.Diagnostics;
using System.Text;
using MonaAot.Interop;

namespace MonaAot.Net;

/// <summary>The Linux half of <see cref="SystemdNotify"/>: an AF_UNIX datagram through libc.</summary>
public static unsafe partial class SystemdNotify
{
    private static partial bool IsSupported => true;

    private static partial bool SendOnPlatform(string socket, string state)
    {
        Debug.Assert(TargetPlatform.IsUnix);
        Libc.sockaddr_un address = default;
        address.sun_family = Libc.AF_UNIX;
        // Room for the path and, for a file path, its terminating zero.
        if (Encoding.UTF8.GetByteCount(socket) > 107)
            return false;
        int pathLength = Encoding.UTF8.GetBytes(socket, new Span<byte>(address.sun_path, 108));
        // "@name": the abstract namespace, whose name starts with a zero byte and has no terminator.
        uint addressLength = sizeof(ushort) + (uint)pathLength;
        if (address.sun_path[0] == (byte)'@')
            address.sun_path[0] = 0;
        else
            addressLength++;
        byte[] message = Encoding.UTF8.GetBytes(state);
        int fd = Libc.socket(Libc.AF_UNIX, Libc.SOCK_DGRAM | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0)
            return false;
        nint sent;
        fixed (byte* data = message)
            sent = Libc.sendto(fd, data, (nuint)message.Length, Libc.MSG_NOSIGNAL, &address, addressLength);
        Libc.close(fd);
        return sent == message.Length;
    }
}
