using System;
using MonaAot.Interop;

namespace MonaAot.Net;

/// <summary>The process's descriptor limit. A server's soft limit is often 1024 while the hard
/// limit allows far more; every connection needs one, so the soft limit is raised at start.</summary>
public static unsafe class OpenFileLimit
{
    /// <summary>Raises the soft limit to the hard limit; returns the limit now in force, or -1
    /// where there is no such limit (Windows: sockets are handles, bounded by memory only).</summary>
    public static long RaiseToHardLimit()
    {
        if (OperatingSystem.IsWindows())
            return -1;
        Libc.rlimit limit;
        if (Libc.getrlimit(Libc.RLIMIT_NOFILE, &limit) != 0)
            return -1;
        if (limit.rlim_cur < limit.rlim_max)
        {
            Libc.rlimit raised = new() { rlim_cur = limit.rlim_max, rlim_max = limit.rlim_max };
            if (Libc.setrlimit(Libc.RLIMIT_NOFILE, &raised) == 0)
                return (long)raised.rlim_cur;
        }
        return (long)limit.rlim_cur;
    }
}
