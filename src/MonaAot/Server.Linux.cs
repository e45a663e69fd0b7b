using System;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace MonaAot;

public static partial class Server
{
    /// <summary>
    /// SIGHUP, the Unix daemon's "reload" (logrotate's postrotate sends it). Linux only: on
    /// Windows .NET maps the console window's close event to SIGHUP, and that means "going
    /// away", not "reload", so nothing is registered there.
    /// </summary>
    [SupportedOSPlatform("linux")]
    private static PosixSignalRegistration RegisterReload(Action<PosixSignalContext> handler) =>
        PosixSignalRegistration.Create(PosixSignal.SIGHUP, handler);
}
