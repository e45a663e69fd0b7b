using System;

namespace MonaAot.Net.Tls;

/// <summary>
/// No TLS engine on Windows yet: making a context fails with a clear message, so the sockets and
/// the scripts' objects compile and behave the same on both platforms and a script that asks for
/// TLS hears why it cannot have it (docs/api.md, "TLS").
/// </summary>
public sealed class TlsContext : IDisposable
{
    private TlsContext(TlsOptions options) => Options = options;

    public TlsOptions Options { get; }

    public bool IsServer => Options.IsServer;

    public static TlsContext? Create(TlsOptions options, out string? error)
    {
        error = "TLS is not available on this platform yet";
        return null;
    }

    public void Dispose()
    {
    }
}
