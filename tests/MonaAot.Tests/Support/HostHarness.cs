using System;
using MonaAot.Configuration;
using MonaAot.Diagnostics;
using MonaAot.Hosting;
using MonaAot.Lua;
using MonaAot.Reactor;

namespace MonaAot.Tests.Support;

/// <summary>
/// The application host in-process, driven by the test: <see cref="Rescan"/> applies the www
/// folder's current state the way the scanner's report would, without waiting for its timer.
/// </summary>
public sealed class HostHarness : IDisposable
{
    public HostHarness(TempWww www, string ini = "", LogLevel level = LogLevel.Trace)
    {
        Www = www;
        Logger = new Logger(level);
        Logger.AddSink(Log);
        Loop = EventLoop.CreateDefault();
        Vm = new LuaVm();
        LogFunctions.Install(Vm, Logger);
        MonaObject.Install(Vm, IniFile.Parse(ini, "test.ini"), www.Www);
        Host = new ApplicationHost(Loop, Vm, Logger, www.Www);
    }

    public TempWww Www { get; }
    public ListLogSink Log { get; } = new();
    public Logger Logger { get; }
    public EventLoop Loop { get; }
    public LuaVm Vm { get; }
    public ApplicationHost Host { get; }

    public void Rescan() => Host.Apply(ApplicationScanner.Scan(Www.Www));

    public void Dispose()
    {
        Host.Stop();
        Vm.Dispose();
        Loop.Dispose();
    }
}
