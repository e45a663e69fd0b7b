using System;
using System.Runtime.InteropServices;
using MonaAot.Configuration;
using MonaAot.Diagnostics;
using MonaAot.Hosting;
using MonaAot.Logging;
using MonaAot.Lua;
using MonaAot.Reactor;

namespace MonaAot;

/// <summary>Wires the loop, the Lua VM and the host together and runs until SIGINT/SIGTERM.</summary>
public static class Server
{
    public static int Run(ServerSettings settings, ILogSink? console = null)
    {
        var logger = new Logger(settings.LogLevel);
        logger.AddSink(console ?? new ConsoleLogSink());
        using RotatingFileLogSink? files = settings.LogFiles is null ? null : new RotatingFileLogSink(settings.LogFiles);
        if (files is not null)
            logger.AddSink(files);

        using EventLoop loop = EventLoop.CreateDefault();
        loop.UnhandledException = e => logger.Critic($"unhandled exception on the loop: {e}");
        using var vm = new LuaVm();
        LogFunctions.Install(vm, logger);
        MonaObject.Install(vm, settings.Ini, settings.WwwRoot);
        var host = new ApplicationHost(loop, vm, logger, settings.WwwRoot);

        // Signals arrive on a runtime thread: hand them to the loop, which stops the applications
        // (children first) and then returns from Run.
        bool stopping = false;
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            loop.Post(() =>
            {
                if (stopping)
                    return;
                stopping = true;
                logger.Info($"{context.Signal} received, stopping");
                host.Stop();
                loop.Stop();
            });
        }
        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

        logger.Info($"MonaAot {Program.Version} serving {settings.WwwRoot}");
        host.Start();
        loop.Run();
        logger.Info("MonaAot stopped");
        return 0;
    }
}
