namespace MonaAot.Diagnostics;

/// <summary>MonaServer's log levels; a logger at level N records messages of level 1..N.</summary>
public enum LogLevel
{
    None = 0,
    Fatal = 1,
    Critic = 2,
    Error = 3,
    Warn = 4,
    Note = 5,
    Info = 6,
    Debug = 7,
    Trace = 8,
}

public static class LogLevels
{
    public const LogLevel Default = LogLevel.Info;

    /// <summary>The name printed in log lines, padded to one width.</summary>
    public static string Label(LogLevel level) => level switch
    {
        LogLevel.Fatal => "FATAL",
        LogLevel.Critic => "CRITIC",
        LogLevel.Error => "ERROR",
        LogLevel.Warn => "WARN",
        LogLevel.Note => "NOTE",
        LogLevel.Info => "INFO",
        LogLevel.Debug => "DEBUG",
        LogLevel.Trace => "TRACE",
        _ => "NONE",
    };
}
