using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;
using MonaAot.Configuration;
using MonaAot.Diagnostics;
using MonaAot.Hosting;
using MonaAot.Logging;
using MonaAot.Lua;
using MonaAot.Modules;
using MonaAot.Lua.Runtime;
using MonaAot.Mail;
using MonaAot.Metrics;
using MonaAot.Net;
using MonaAot.Reactor;
using MonaAot.Workers;

namespace MonaAot;

/// <summary>Wires the loop, the Lua VM and the host together and runs until SIGINT/SIGTERM (SIGHUP reloads).</summary>
public static partial class Server
{
    /// <summary>How long a stopping server lets closing connections deliver their queued data
    /// and pending mails finish.</summary>
    public const int ShutdownDrainMs = 5000;

    /// <summary>The layout check of every start (NativeLayouts): false, after one FATAL line
    /// naming every difference, when a struct C# shares with the kernel or with C is laid out
    /// unlike the C compiler's answer for this target; DEBUG says how many facts agreed. The
    /// supervisor of [server] workers runs it too, before any worker: a worker that exits on it
    /// would otherwise be restarted for ever.</summary>
    internal static bool LayoutsAgree(Logger logger)
    {
        List<string> layoutMismatches = NativeLayouts.Check(out int layouts);
        if (layoutMismatches.Count > 0)
        {
            logger.Fatal($"native layouts differ from C#'s declarations for {RuntimeInformation.ProcessArchitecture}, refusing to start: {string.Join("; ", layoutMismatches)}");
            return false;
        }
        logger.Debug($"{layouts} layouts checked");
        return true;
    }

    public static int Run(ServerSettings settings, ILogSink? console = null)
    {
        // A worker of [server] workers writes its lines to its supervisor, the one writer of the
        // console and the log files (docs/architecture.md, "Workers").
        WorkerIdentity worker = WorkerIdentity.Current;
        ConsoleLogSink? workerConsole = worker.IsWorker ? new ConsoleLogSink(worker: worker.Number) : null;
        var logger = new Logger(settings.LogLevel);
        logger.AddSink(console ?? workerConsole ?? new ConsoleLogSink());
        using RotatingFileLogSink? files = settings.LogFiles is null || worker.IsWorker ? null : new RotatingFileLogSink(settings.LogFiles);
        if (files is not null)
            logger.AddSink(files);
        // Before the first epoll_wait or Lua call: a struct C# lays out unlike the C compiler
        // for this target (another architecture's kernel layout) would corrupt memory
        // silently, so such a build refuses to start (docs/architecture.md, "Architectures").
        if (!LayoutsAgree(logger))
            return 1;
        OpenFileLimit.RaiseToHardLimit();
        // A worker's supervisor already said these once.
        foreach (ConfigWarning warning in worker.IsWorker ? [] : settings.Warnings)
            logger.Log(LogLevel.Warn, warning.File, warning.Line, warning.Message);
        // Sockets systemd passed (socket activation), before any script asks for an address.
        SocketActivation.Claim(logger);

        using EventLoop loop = EventLoop.CreateDefault();
        loop.UnhandledException = e => logger.Critic($"unhandled exception on the loop: {e}");
        using var net = new NetContext(loop, logger, settings.TcpLimits) { ReusePort = worker.Count > 1 };
        using var vm = new LuaVm();
        using HandlerWatchdog? watchdog = ApplyLuaLimits(vm, settings.Lua);
        using var mail = new MailQueue(settings.Smtp, loop.Post);
        var runtime = new ScriptRuntime(vm, loop, net, logger);
        _ = new IdleTrim(loop, vm, logger); // lives as long as the loop, which holds its hook
        MonaObject mona = InstallGlobals(runtime, settings, mail, worker);
        var host = new ApplicationHost(runtime, mona, settings.WwwRoot);
        using MetricsEndpoint? metrics = StartMetrics(settings.Metrics, runtime, mail, logger);
        if (settings.Metrics is not null && metrics is null)
            return Program.ExitUsage;

        // Signals arrive on a runtime thread, which must not run scripts. The first SIGINT or
        // SIGTERM interrupts the script call running now, if any (an endless loop included,
        // whatever [lua] handlerTimeout says: docs/api.md, "Signals and shutdown"), and hands the
        // stop to the loop, which stops the applications (children first), lets closing connections
        // drain, and then returns from Run. Another one means the stop itself is stuck (an onStop
        // that loops, a drain the user will not wait for): exit at once, without the loop.
        int stopSignals = 0;
        void OnStopSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            int signals = Interlocked.Increment(ref stopSignals);
            // A worker's supervisor passes one stop on and ends a stuck stop itself (SIGKILL);
            // the same signal from elsewhere too (systemd's KillMode=control-group signals every
            // process) must not turn a drain into an exit.
            if (signals > 1 && worker.IsWorker)
                return;
            if (signals > 1)
            {
                logger.Error($"{context.Signal} received while stopping, exiting now (code 1)");
                Environment.Exit(1);
                return;
            }
            vm.Interrupt(context.Signal == PosixSignal.SIGINT ? InterruptSignal.Sigint : InterruptSignal.Sigterm);
            loop.Post(() =>
            {
                logger.Info($"{context.Signal} received, stopping");
                SystemdNotify.Stopping($"{context.Signal} received, stopping");
                // SIGTERM is how a service manager or a rolling restart stops a member of a
                // fleet: refuse new connections at once, let the open ones finish (docs/api.md,
                // "Signals and shutdown"). SIGINT, a person at a terminal, stops at once.
                if (context.Signal == PosixSignal.SIGTERM && settings.DrainTimeoutSeconds > 0 && net.Stats.Connections > 0)
                {
                    int listeners = net.StopListening();
                    logger.Info($"{listeners} listener(s) closed; {net.Stats.Connections} open connection(s) have {settings.DrainTimeoutSeconds} s ([server] drainTimeout) to end");
                    StopWhenIdle(loop, net, StopApplications, mail, EventLoop.Now + settings.DrainTimeoutSeconds * 1000L);
                    return;
                }
                StopApplications();
                StopWhenDrained(loop, net, mail, EventLoop.Now + ShutdownDrainMs);
            });
        }
        // The endpoint closes with the applications: its listener would otherwise keep the
        // drain below waiting its full 5 s for a socket that never closes by itself.
        void StopApplications()
        {
            metrics?.Dispose();
            host.Stop();
        }
        // SIGHUP (Linux): reopen the log files and reload every application, on the loop, after
        // whatever script call is running; not once stopping.
        void OnReloadSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            loop.Post(() =>
            {
                if (Volatile.Read(ref stopSignals) > 0)
                    return;
                SystemdNotify.Reloading();
                files?.Reopen();
                logger.Info($"{context.Signal} received, log files reopened, reloading every application");
                host.ReloadAll();
                SystemdNotify.Ready("reloaded");
                if (workerConsole is not null)
                    WorkerChannel.Tell(workerConsole, WorkerChannel.Ready);
            });
        }
        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnStopSignal);
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnStopSignal);
        using PosixSignalRegistration? sighup = OperatingSystem.IsLinux() ? RegisterReload(OnReloadSignal) : null;

        logger.Info($"MonaAot {Program.Version} serving {settings.WwwRoot}");
        host.Start();
        // Every main.lua has run, so the servers they started listen: tell systemd (Type=notify).
        SocketActivation.WarnUnused(logger);
        SystemdNotify.Ready($"serving {settings.WwwRoot}");
        if (workerConsole is not null)
            WorkerChannel.Tell(workerConsole, WorkerChannel.Ready);
        loop.Run();
        logger.Info("MonaAot stopped");
        return 0;
    }

    /// <summary>[metrics]: the endpoint, or null when not configured or when it cannot listen
    /// (logged as one line; the caller then exits non-zero before any application starts).</summary>
    private static MetricsEndpoint? StartMetrics(MetricsSettings? settings, ScriptRuntime runtime, MailQueue mail, Logger logger)
    {
        if (settings is null)
            return null;
        int port = MetricsEndpoint.PortFor(settings.Port, WorkerIdentity.Current);
        MetricsEndpoint? endpoint = MetricsEndpoint.Start(runtime.Net, runtime, mail, settings.Address, port, out string? error);
        if (endpoint is null)
            logger.Fatal($"[metrics] cannot listen on {NetAddress.Format(settings.Address, port)}: {error}");
        else
            logger.Info($"metrics served at http://{NetAddress.Format(settings.Address, endpoint.Port)}/metrics");
        return endpoint;
    }

    /// <summary>[lua] memoryLimit, handlerTimeout and cmodules on <paramref name="vm"/>, before
    /// any script runs; the watchdog (if any) must be disposed before the VM.</summary>
    public static HandlerWatchdog? ApplyLuaLimits(LuaVm vm, LuaLimits limits)
    {
        if (!limits.CModules)
            vm.RefuseCModules();
        vm.SetMemoryLimit(limits.MemoryLimit);
        return limits.HandlerTimeoutSeconds > 0 ? new HandlerWatchdog(vm, limits.HandlerTimeoutSeconds) : null;
    }

    /// <summary>The global log functions and the mona table with every module; returns the
    /// mona table, which the applications' own are made from.</summary>
    public static MonaObject InstallGlobals(ScriptRuntime runtime, ServerSettings settings, MailQueue mail, WorkerIdentity? worker = null)
    {
        LogFunctions.Install(runtime.Vm, runtime.Logger);
        worker ??= WorkerIdentity.Current;
        MonaObject mona = MonaObject.Install(runtime, new MonaHost(settings.Ini, settings.WwwRoot, worker.Number, worker.Count));
        TcpModule.Install(runtime, mona, settings.WwwRoot, settings.Tls.Certificate, settings.Tls.Key);
        UdpModule.Install(runtime, mona);
        MailModule.Install(runtime, mona, mail);
        TimerModule.Install(runtime, mona);
        StatsFunction.Install(runtime, mona);
        HashFunctions.Install(runtime, mona);
        EncodingFunctions.Install(runtime, mona);
        JsonModule.Install(runtime, mona);
        return mona;
    }

    /// <summary>The drain after SIGTERM: once no connection is open, or at
    /// <paramref name="deadline"/>, the applications stop (closing what is left) as for SIGINT.</summary>
    private static void StopWhenIdle(EventLoop loop, NetContext net, Action stopApplications, MailQueue mail, long deadline)
    {
        if (net.Stats.Connections == 0 || EventLoop.Now >= deadline)
        {
            if (net.Stats.Connections > 0)
                net.Logger.Warn($"[server] drainTimeout reached with {net.Stats.Connections} connection(s) open: closing them");
            stopApplications();
            StopWhenDrained(loop, net, mail, EventLoop.Now + ShutdownDrainMs);
            return;
        }
        loop.Schedule(20, 0, () => StopWhenIdle(loop, net, stopApplications, mail, deadline));
    }

    private static void StopWhenDrained(EventLoop loop, NetContext net, MailQueue mail, long deadline)
    {
        if ((net.OpenSockets == 0 && net.EndingConnections == 0 && mail.Pending == 0) || EventLoop.Now >= deadline)
        {
            long undelivered = net.UndeliveredBytes(out int connections);
            if (connections > 0)
                net.Logger.Warn($"stopping after {ShutdownDrainMs / 1000} s with {connections} connection(s) still sending: {undelivered} bytes not delivered");
            // Mails still out get onSent now, while the loop (and Lua) still run.
            mail.Abandon("mail not sent: the server stopped before the SMTP server accepted it");
            loop.Stop();
            return;
        }
        loop.Schedule(20, 0, () => StopWhenDrained(loop, net, mail, deadline));
    }
}
