namespace MonaAot.Net;

/// <summary>The Windows half of <see cref="SocketActivation"/>: there is no systemd, so no
/// descriptors are ever inherited (docs/api.md, "Socket activation").</summary>
public static partial class SocketActivation
{
    private static partial bool IsSupported => false;

    private static partial bool Describe(nint fd, out NetAddress address, out bool stream)
    {
        address = default;
        stream = false;
        return false;
    }

    private static partial void Prepare(nint fd) { }
}
