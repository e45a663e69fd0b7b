using System;
using System.Globalization;
using MonaAot.Processes;

namespace MonaAot.Workers;

/// <summary>What a worker does before it serves anything (Linux; docs/architecture.md, "Workers").</summary>
public static class WorkerProcess
{
    /// <summary>
    /// Ties this worker to its supervisor: its own process group (a Ctrl+C at the terminal
    /// reaches the supervisor alone, which passes it on once), SIGTERM when the supervisor ends
    /// however it ends (SIGKILL included), and the sockets systemd passed to the supervisor.
    /// False, with the reason, when the supervisor is already gone.
    /// </summary>
    public static bool Attach(out string? error)
    {
        error = null;
        string? supervisorText = Environment.GetEnvironmentVariable(WorkerIdentity.SupervisorVariable);
        // MONAAOT_WORKER set by hand (a test of the metrics labels) has no supervisor to follow.
        if (supervisorText is null || !ProcessControl.IsSupported
            || !int.TryParse(supervisorText, NumberStyles.None, CultureInfo.InvariantCulture, out int supervisor))
            return true;
        ProcessControl.LeaveTerminalGroup();
        ProcessControl.DieWithParent(ProcessControl.SigTerm);
        // The supervisor may have ended before the line above: then no signal will come.
        if (ProcessControl.ParentId != supervisor)
        {
            error = $"the supervisor (pid {supervisor}) is gone";
            return false;
        }
        // Socket activation: systemd addressed its sockets to the supervisor, which left them
        // to the workers; each worker takes them (all share the listening sockets).
        if (Environment.GetEnvironmentVariable("LISTEN_PID") == supervisorText)
            Environment.SetEnvironmentVariable("LISTEN_PID", Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        return true;
    }
}
