using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using MonaAot.Configuration;
using MonaAot.Diagnostics;
using MonaAot.Logging;
using MonaAot.Net;
using MonaAot.Processes;

namespace MonaAot.Workers;

/// <summary>
/// <c>[server] workers = N</c> (N &gt; 1): this process runs no script. It starts N copies of its
/// own executable with the same arguments (a new process each, never a fork of this runtime),
/// each told its number through <see cref="WorkerIdentity.Variable"/>; the workers share their
/// listening addresses through SO_REUSEPORT. It writes every worker's log lines (their standard
/// output) to the console and the log files, passes SIGTERM, SIGINT and SIGHUP on, restarts a
/// worker that ends with a growing delay, and tells systemd READY=1 once every worker is ready
/// (docs/architecture.md, "Workers").
/// </summary>
public sealed class Supervisor
{
    /// <summary>The first restart's delay; it doubles with each restart, up to <see cref="MaxBackoffMs"/>.</summary>
    public const int FirstBackoffMs = 100;
    public const int MaxBackoffMs = 10_000;

    /// <summary>A worker that ran this long before it ended is restarted after the first delay again.</summary>
    public const int StableRunMs = 30_000;

    /// <summary>After the stop was passed on, workers get their drain (<c>[server] drainTimeout</c>)
    /// and this much more (the 5 s a stopping server gives its closing connections, and 10 s)
    /// before SIGKILL.</summary>
    public const int StopGraceMs = 15_000;

    /// <summary>How long the supervisor waits, after a worker ended, for the end of its output
    /// pipes (the last lines it wrote) before it handles the end.</summary>
    public const int OutputDrainMs = 2_000;

    private readonly ServerSettings _settings;
    private readonly string[] _arguments;
    private readonly string _version;
    private readonly Logger _logger;
    private readonly RotatingFileLogSink? _files;
    private readonly Worker[] _workers;
    // Everything that changes the supervisor's state runs on the thread of Run, one at a time:
    // signals, ends of workers and their notes arrive on other threads and are posted here.
    // Starting every worker from that one long-lived thread also matters: PR_SET_PDEATHSIG
    // fires when the thread that started a child ends, not the process.
    private readonly BlockingCollection<Action> _events = new();
    private int _stopSignals;
    private long _killAt = long.MaxValue;
    private bool _ready;
    private int _exitCode;

    private sealed class Worker(int number)
    {
        public int Number { get; } = number;
        public Process? Process { get; set; }
        public long StartedAt { get; set; }
        public int BackoffMs { get; set; } = FirstBackoffMs;
        public bool Ready { get; set; }
        public bool EverReady { get; set; }

        /// <summary>This process said READY=1 once: its SIGHUP handler is in place.</summary>
        public bool Started { get; set; }
        public bool RestartPending { get; set; }
    }

    private Supervisor(ServerSettings settings, string[] arguments, string version, Logger logger, RotatingFileLogSink? files)
    {
        _settings = settings;
        _arguments = arguments;
        _version = version;
        _logger = logger;
        _files = files;
        _workers = new Worker[settings.Workers];
        for (int i = 0; i < _workers.Length; i++)
            _workers[i] = new Worker(i + 1);
    }

    private int Count => _workers.Length;

    private bool Stopping => _stopSignals > 0;

    /// <summary>Runs until every worker ended after a stop; returns the exit code.
    /// <paramref name="arguments"/> are the process's own, given to each worker;
    /// <paramref name="layoutsAgree"/> is the server's start-up check of the native layouts
    /// (Server.LayoutsAgree), given by the caller so that this layer does not reach up to it.</summary>
    public static int Run(ServerSettings settings, string[] arguments, string version, Func<Logger, bool> layoutsAgree)
    {
        var logger = new Logger(settings.LogLevel);
        logger.AddSink(new ConsoleLogSink());
        using RotatingFileLogSink? files = settings.LogFiles is null ? null : new RotatingFileLogSink(settings.LogFiles);
        if (files is not null)
            logger.AddSink(files);
        // A build whose layouts are wrong for this target refuses to start here, once: each
        // worker would refuse too, exit 1 before it is ready and be restarted for ever.
        if (!layoutsAgree(logger))
            return 1;
        foreach (ConfigWarning warning in settings.Warnings)
            logger.Log(LogLevel.Warn, warning.File, warning.Line, warning.Message);
        return new Supervisor(settings, arguments, version, logger, files).Run();
    }

    private int Run()
    {
        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using PosixSignalRegistration? sighup = OperatingSystem.IsLinux() ? PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnSignal) : null;

        _logger.Info($"MonaAot {_version} supervising {Count} workers serving {_settings.WwwRoot}");
        foreach (Worker worker in _workers)
        {
            if (!Start(worker))
            {
                Stop(PosixSignal.SIGTERM, "a worker could not be started");
                _exitCode = 1;
                break;
            }
        }
        while (!(Stopping && AllEnded()))
        {
            long wait = _killAt == long.MaxValue ? Timeout.Infinite : Math.Max(0, _killAt - Environment.TickCount64);
            if (_events.TryTake(out Action? next, (int)Math.Min(wait, int.MaxValue)))
                next();
            else if (Environment.TickCount64 >= _killAt)
            {
                // docs/api.md, "Workers": a stop that had to kill exits with code 1.
                _exitCode = 1;
                KillAll("the workers did not stop in time");
            }
        }
        _logger.Info("MonaAot stopped");
        return _exitCode;
    }

    private bool AllEnded() => Array.TrueForAll(_workers, w => w.Process is null);

    private void Post(Action action) => _events.Add(action);

    private bool Start(Worker worker, bool restart = false)
    {
        worker.RestartPending = false;
        if (Stopping)
            return true;
        var start = new ProcessStartInfo(Environment.ProcessPath ?? "monaaot")
        {
            UseShellExecute = false,
            // A pipe closed at once: a worker is not in the terminal's process group, and a
            // script reading the terminal would be stopped (SIGTTIN) instead of reading nothing.
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (string argument in _arguments)
            start.ArgumentList.Add(argument);
        start.Environment[WorkerIdentity.Variable] = new WorkerIdentity(worker.Number, Count).Text;
        start.Environment[WorkerIdentity.SupervisorVariable] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        // systemd hears from the supervisor alone (NotifyAccess=main); workers tell it through
        // WorkerChannel instead.
        start.Environment.Remove("NOTIFY_SOCKET");
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => OnOutput(worker, process, e.Data);
        process.ErrorDataReceived += (_, e) => OnError(worker, e.Data);
        process.Exited += (_, _) =>
        {
            long endedAt = Environment.TickCount64;
            // Every line the worker wrote is forwarded before its end is handled: both pipes
            // reach their end. A process the worker started (os.execute("... &"), io.popen)
            // inherited them and may hold them open for as long as it lives: the end is handled
            // after OutputDrainMs all the same, or a restart (and a stop) would wait for it.
            bool drained = true;
            using (var timeout = new CancellationTokenSource(OutputDrainMs))
            {
                try
                {
                    process.WaitForExitAsync(timeout.Token).GetAwaiter().GetResult();
                }
                catch (OperationCanceledException)
                {
                    drained = false;
                }
            }
            Post(() => OnExited(worker, process, endedAt, drained));
        };
        try
        {
            process.Start();
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            string message = $"cannot start worker {worker.Number}/{Count} ({start.FileName}): {e.Message}";
            if (restart)
                _logger.Error(message);
            else
                _logger.Fatal(message);
            process.Dispose();
            return false;
        }
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        worker.Process = process;
        worker.StartedAt = Environment.TickCount64;
        worker.Ready = false;
        worker.Started = false;
        _logger.Info($"worker {worker.Number}/{Count} started (pid {process.Id})");
        return true;
    }

    private void OnOutput(Worker worker, Process process, string? line)
    {
        if (line is null)
            return;
        if (WorkerChannel.StateOf(line) is { } state)
            Post(() => OnState(worker, process, state));
        else
            _logger.WriteLine(line);
    }

    /// <summary>What a worker writes to stderr is not a log line (the runtime's own report of a
    /// crash, say): it is written as an ERROR line of that worker.</summary>
    private void OnError(Worker worker, string? line)
    {
        if (!string.IsNullOrEmpty(line))
            _logger.WriteLine(new LogEntry(DateTime.Now, LogLevel.Error, "stderr", 0, line).Format(worker.Number));
    }

    private void OnState(Worker worker, Process process, string state)
    {
        if (state != WorkerChannel.Ready || worker.Process != process)
            return;
        worker.Ready = worker.EverReady = worker.Started = true;
        if (_ready || Stopping || !Array.TrueForAll(_workers, w => w.Ready))
            return;
        _ready = true;
        _logger.Info($"{Count} workers ready");
        SystemdNotify.Ready($"serving {_settings.WwwRoot} with {Count} workers");
    }

    private void OnExited(Worker worker, Process process, long endedAt, bool drained)
    {
        if (worker.Process != process)
            return;
        int code = process.ExitCode;
        int pid = process.Id;
        long ran = endedAt - worker.StartedAt;
        if (!drained)
            _logger.Warn($"worker {worker.Number}/{Count} (pid {pid}) ended but a process it started still holds its output open: what it writes now is not logged");
        process.Dispose();
        worker.Process = null;
        worker.Ready = false;
        // .NET reports a child ended by a signal as 128 + the signal.
        string how = code > 128 && code < 128 + 65 ? $"was killed by signal {code - 128}" : $"exited with code {code}";
        if (Stopping)
        {
            _logger.Info($"worker {worker.Number}/{Count} (pid {pid}) {how}");
            return;
        }
        // A worker that refused its configuration before serving anything would refuse it again:
        // restarting it forever would only hide the message above it.
        if (code == ConfigurationException.ExitCode && !worker.EverReady)
        {
            _logger.Fatal($"worker {worker.Number}/{Count} (pid {pid}) {how} before it was ready: stopping");
            _exitCode = ConfigurationException.ExitCode;
            Stop(PosixSignal.SIGTERM, $"worker {worker.Number}/{Count} refused its configuration");
            return;
        }
        if (ran >= StableRunMs)
            worker.BackoffMs = FirstBackoffMs;
        int delay = worker.BackoffMs;
        worker.BackoffMs = Math.Min(worker.BackoffMs * 2, MaxBackoffMs);
        _logger.Warn($"worker {worker.Number}/{Count} (pid {pid}) {how} after {ran} ms; restarting in {delay} ms");
        RestartAfter(worker, delay);
    }

    /// <summary>Starts <paramref name="worker"/> again after <paramref name="delay"/> ms, unless a
    /// stop came meanwhile; a start that fails (the executable gone during an upgrade, no memory
    /// for a process) is tried again with the growing delay, not given up.</summary>
    private void RestartAfter(Worker worker, int delay)
    {
        worker.RestartPending = true;
        Task.Delay(delay).ContinueWith(_ => Post(() =>
        {
            if (!worker.RestartPending || Start(worker, restart: true) || Stopping)
                return;
            int next = worker.BackoffMs;
            worker.BackoffMs = Math.Min(worker.BackoffMs * 2, MaxBackoffMs);
            _logger.Warn($"worker {worker.Number}/{Count}: trying again in {next} ms");
            RestartAfter(worker, next);
        }), TaskScheduler.Default);
    }

    // On a runtime thread: hand the signal to the supervisor's thread.
    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        PosixSignal signal = context.Signal;
        Post(() =>
        {
            if (signal == PosixSignal.SIGHUP)
                Reload();
            else
                Stop(signal);
        });
    }

    /// <summary>SIGINT or SIGTERM: passed on once to every worker, which stop as a single server
    /// does (SIGTERM drains); a second one ends the workers at once (SIGKILL).</summary>
    private void Stop(PosixSignal signal, string? reason = null)
    {
        if (Stopping)
        {
            _logger.Error($"{signal} received while stopping, killing the workers");
            _exitCode = 1;
            KillAll(null);
            return;
        }
        _stopSignals++;
        // reason: a stop the supervisor decided itself, which no signal asked for.
        reason ??= $"{signal} received";
        _logger.Info($"{reason}, stopping {Count} workers");
        SystemdNotify.Stopping($"{reason}, stopping");
        int number = signal == PosixSignal.SIGINT ? ProcessControl.SigInt : ProcessControl.SigTerm;
        foreach (Worker worker in _workers)
        {
            worker.RestartPending = false;
            if (worker.Process is { } process)
                Signal(process, number);
        }
        _killAt = Environment.TickCount64 + _settings.DrainTimeoutSeconds * 1000L + StopGraceMs;
    }

    /// <summary>kill(2) to a worker that has not been reaped yet: once it has, its pid may
    /// already be another process's (its end is handled a little later, after its output).</summary>
    private static void Signal(Process process, int signal)
    {
        if (!process.HasExited)
            ProcessControl.Signal(process.Id, signal);
    }

    private void KillAll(string? reason)
    {
        if (reason is not null)
            _logger.Error($"{reason}: killing them");
        _killAt = long.MaxValue;
        foreach (Worker worker in _workers)
        {
            if (worker.Process is { } process)
                Signal(process, ProcessControl.SigKill);
        }
    }

    /// <summary>SIGHUP: the log files reopened here (the one writer), every worker reloads;
    /// READY=1 again once each said it reloaded.</summary>
    private void Reload()
    {
        if (Stopping)
            return;
        SystemdNotify.Reloading();
        _files?.Reopen();
        _logger.Info($"SIGHUP received, log files reopened, reloading {Count} workers");
        _ready = false;
        foreach (Worker worker in _workers)
        {
            worker.Ready = false;
            // A worker still starting has no SIGHUP handler yet (the signal would kill it: a
            // needless restart) and is loading the scripts as they are now: its first READY=1
            // counts as its reload.
            if (worker.Process is { } process && worker.Started)
                Signal(process, ProcessControl.SigHup);
        }
    }
}
