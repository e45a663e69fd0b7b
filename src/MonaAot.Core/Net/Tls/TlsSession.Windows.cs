using System;

namespace MonaAot.Net.Tls;

/// <summary>The Windows stand-in: no context can be made (<see cref="TlsContext"/>), so no
/// session ever is; the members exist so that the connection's TLS code is the same on both
/// platforms.</summary>
public sealed class TlsSession : IDisposable
{
    private TlsSession()
    {
    }

    public static TlsSession? CreateClient(TlsContext context, string? serverName, out string? error)
    {
        error = "TLS is not available on this platform yet";
        return null;
    }

    public static TlsSession? CreateServer(TlsContext context, out string? error)
    {
        error = "TLS is not available on this platform yet";
        return null;
    }

    public bool IsEstablished => false;
    public bool PeerClosed => false;
    public string? Failure => null;
    public int PendingCiphertext => 0;
    public string? Version => null;
    public string? Alpn => null;
    public string? PeerSubject => null;

    public bool FeedCiphertext(ReadOnlySpan<byte> ciphertext) => false;
    public int TakeCiphertext(Span<byte> into) => 0;
    public TlsStatus Handshake() => TlsStatus.Failed;

    public TlsStatus ReadPlaintext(Span<byte> into, out int count)
    {
        count = 0;
        return TlsStatus.Failed;
    }

    public TlsStatus WritePlaintext(ReadOnlySpan<byte> plaintext) => TlsStatus.Failed;
    public bool Shutdown() => false;

    public void Dispose()
    {
    }
}
