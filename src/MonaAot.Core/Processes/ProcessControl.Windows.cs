namespace MonaAot.Processes;

/// <summary>The Windows half of <see cref="ProcessControl"/>: nothing, since workers are
/// refused on Windows.</summary>
public static partial class ProcessControl
{
    public static partial bool IsSupported => false;

    public static partial bool Signal(int pid, int signal) => false;

    public static partial int ParentId => 0;

    public static partial bool LeaveTerminalGroup() => false;

    public static partial bool DieWithParent(int signal) => false;
}
