using System.Diagnostics;
using MonaAot.Interop;

namespace MonaAot.Net;

/// <summary>The Linux half of <see cref="SocketActivation"/>.</summary>
public static unsafe partial class SocketActivation
{
    private static partial bool IsSupported => true;

    private static partial bool Describe(nint fd, out NetAddress address, out bool stream)
    {
        Debug.Assert(TargetPlatform.IsUnix);
        stream = false;
        int type = 0;
        uint length = sizeof(int);
        if (!NetAddress.OfSocket(fd, peer: false, out address)
            || (address.Family != Libc.AF_INET && address.Family != Libc.AF_INET6)
            || Libc.getsockopt((int)fd, Libc.SOL_SOCKET, Libc.SO_TYPE, &type, &length) != 0)
            return false;
        stream = type == Libc.SOCK_STREAM;
        return type == Libc.SOCK_STREAM || type == Libc.SOCK_DGRAM;
    }

    // systemd passes blocking descriptors without close-on-exec; the reactor wants neither.
    private static partial void Prepare(nint fd)
    {
        Debug.Assert(TargetPlatform.IsUnix);
        int flags = Libc.fcntl((int)fd, Libc.F_GETFL, 0);
        if (flags >= 0)
            Libc.fcntl((int)fd, Libc.F_SETFL, flags | Libc.O_NONBLOCK);
        Libc.fcntl((int)fd, Libc.F_SETFD, Libc.FD_CLOEXEC);
    }
}
