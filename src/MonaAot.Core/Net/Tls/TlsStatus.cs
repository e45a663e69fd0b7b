namespace MonaAot.Net.Tls;

/// <summary>What one step of a TLS session came to. After every step, whatever the status, the
/// session may hold ciphertext to send (<c>TlsSession.PendingCiphertext</c>), an alert
/// included after a failure.</summary>
public enum TlsStatus
{
    /// <summary>The step is complete: the handshake is done, bytes were read or written.</summary>
    Done,

    /// <summary>More ciphertext from the peer is needed before anything else can happen.</summary>
    NeedMore,

    /// <summary>The peer sent close_notify: no more plaintext will come.</summary>
    Closed,

    /// <summary>The session failed for good; <c>TlsSession.Failure</c> says why.</summary>
    Failed,
}
