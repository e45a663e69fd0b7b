namespace MonaAot.Net;

/// <summary>
/// Why a connection ended, as its owner hears it (<see cref="ITcpConnectionEvents.OnClosed"/>):
/// nothing (a normal end, the default), a text, or an errno with the peer it concerned. The
/// last one's text ("connection reset by peer (ip:port)", <see cref="NetError.Describe(int, string)"/>)
/// is made only when someone reads it: a peer's reset is common under load, and most scripts
/// never look at the reason (docs/architecture.md, "Connection pooling").
/// </summary>
public readonly struct NetFailure
{
    private readonly string? _text;
    private readonly int _errno;
    private readonly string? _peerText;
    private readonly NetAddress _peer;
    private readonly bool _peerKnown;

    public NetFailure(string? text) => _text = text;

    private NetFailure(int errno, string? peerText, NetAddress peer, bool peerKnown)
    {
        _errno = errno;
        _peerText = peerText;
        _peer = peer;
        _peerKnown = peerKnown;
    }

    /// <summary><paramref name="errno"/> (not 0) on the connection with <paramref name="peer"/>
    /// (its text when already made, else the address when known; "?" otherwise).</summary>
    public static NetFailure OfErrno(int errno, string? peerText, in NetAddress peer, bool peerKnown) =>
        new(errno, peerText, peer, peerKnown);

    /// <summary>An error, not a normal end.</summary>
    public bool IsError => _text is not null || _errno != 0;

    /// <summary>The message; null for a normal end. Made on each call for an errno: see
    /// <see cref="Resolved"/>.</summary>
    public string? Text => _text ?? (_errno == 0 ? null
        : NetError.Describe(_errno, _peerText ?? (_peerKnown ? _peer.ToString() : "?")));

    /// <summary>The same failure with its text made, for a holder that reads it more than
    /// once.</summary>
    public NetFailure Resolved() => _text is not null || _errno == 0 ? this : new NetFailure(Text);

    public static implicit operator NetFailure(string? text) => new(text);

    public override string ToString() => Text ?? "";
}
