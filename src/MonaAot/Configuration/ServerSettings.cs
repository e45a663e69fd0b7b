using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using MonaAot.Diagnostics;
using MonaAot.Mail;
using MonaAot.Net;

namespace MonaAot.Configuration;

/// <summary>[lua]: bounds on what scripts may take (docs/api.md: Limits).</summary>
/// <param name="MemoryLimit">Bytes the Lua heap may hold while scripts run; 0: no limit.</param>
/// <param name="HandlerTimeoutSeconds">Seconds one call into a script may run; 0: no limit.</param>
public sealed record LuaLimits(long MemoryLimit, int HandlerTimeoutSeconds)
{
    public static LuaLimits Default { get; } = new(0, 0);

    /// <summary>[lua] cmodules: whether require and package.loadlib may load Lua C modules
    /// (docs/api.md: Lua C modules).</summary>
    public bool CModules { get; init; } = true;
}

/// <summary>A configuration line that does not stop the server but deserves a look (an
/// unknown key in a section MonaAot reads: a typo, most likely).</summary>
public sealed record ConfigWarning(string File, int Line, string Message)
{
    /// <summary>"file:line: message", the form of configuration errors, for stderr.</summary>
    public override string ToString() => $"{File}:{Line}: {Message}";
}

/// <summary>[tls] certificate and key, absolute; null when not configured.</summary>
public sealed record TlsFiles(string? Certificate, string? Key)
{
    public static TlsFiles None { get; } = new(null, null);
}

/// <summary>[metrics]: the address and port /metrics is served on (docs/api.md, "[metrics]").</summary>
public sealed record MetricsSettings(IPAddress Address, int Port);

/// <summary>Where rotated log files go ([logs] section); null settings mean console only.</summary>
public sealed record LogFileSettings(string Directory, long MaxSize, int Rotation);

/// <summary>
/// Everything the server needs to start, resolved and validated from the command line and the
/// ini file before anything starts, so that a mistake costs one line and exit code 2.
/// </summary>
public sealed record ServerSettings(string WwwRoot, LogLevel LogLevel, IniFile Ini, LogFileSettings? LogFiles, TcpLimits TcpLimits)
{
    /// <summary>
    /// Every key MonaAot reads, by section ("" for the lines before any header); the one list
    /// that the unknown-key warnings and docs/api.md are checked against (Docs/ApiReferenceTests
    /// also checks that this file reads no other key). Keys of other sections are the scripts'
    /// (mona.configs) and never warned about.
    /// </summary>
    public static IReadOnlyDictionary<string, string[]> KnownKeys { get; } =
        new Dictionary<string, string[]>(StringComparer.OrdinalIgnoreCase)
        {
            [""] = ["www"],
            ["server"] = ["drainTimeout", "workers"],
            ["logs"] = ["directory", "maxSize", "rotation"],
            ["tcp"] = ["receiveLimit", "sendLimit", "connectTimeout", "idleTimeout", "sendTimeout"],
            ["lua"] = ["memoryLimit", "handlerTimeout", "cmodules"],
            ["smtp"] = ["host", "port", "timeout", "user", "password", "tls"],
            ["tls"] = ["certificate", "key", "handshakeTimeout"],
            ["metrics"] = ["port", "address"],
        };

    /// <summary>Unknown keys in the sections MonaAot reads, logged at WARN once the logger
    /// exists (Server.Run): a typo such as <c>idleTimout</c> would otherwise pass silently.</summary>
    public IReadOnlyList<ConfigWarning> Warnings { get; init; } = [];

    /// <summary>[smtp]: the server mona:sendMail goes through.</summary>
    public SmtpSettings Smtp { get; init; } = SmtpSettings.Default;

    /// <summary>[tls] certificate and key: what mona:createTCPServer(true) serves.</summary>
    public TlsFiles Tls { get; init; } = TlsFiles.None;

    /// <summary>[lua]: memoryLimit, handlerTimeout and cmodules.</summary>
    public LuaLimits Lua { get; init; } = LuaLimits.Default;

    /// <summary>[metrics]: where /metrics is served; null (no port given) means not at all.</summary>
    public MetricsSettings? Metrics { get; init; }

    /// <summary>[server] drainTimeout: seconds the open connections get, after SIGTERM closed
    /// the listeners, before the applications stop (docs/api.md, "Signals and shutdown").</summary>
    public int DrainTimeoutSeconds { get; init; } = DefaultDrainTimeoutSeconds;

    public const int DefaultDrainTimeoutSeconds = 10;

    /// <summary>[server] drainTimeout, in seconds (0: no drain; at most an hour).</summary>
    public static int DrainTimeoutOf(IniFile ini) =>
        (int)ini.GetInteger("server", "drainTimeout", DefaultDrainTimeoutSeconds, 0, 3600);

    /// <summary>[server] workers: how many worker processes serve www (docs/api.md,
    /// "[server] workers"); 1, the default, is one process and no supervisor.</summary>
    public int Workers { get; init; } = 1;

    /// <summary>Workers beyond this are refused: a typo (10000) would otherwise start that many.</summary>
    public const int MaxWorkers = 256;

    /// <summary>[server] workers: an integer from 1 to <see cref="MaxWorkers"/>, or <c>auto</c>
    /// (one per CPU the process may run on). Linux only: Windows has no SO_REUSEPORT.</summary>
    public static int WorkersOf(IniFile ini)
    {
        IniEntry? entry = ini.Find("server", "workers");
        if (entry is null)
            return 1;
        int workers;
        if (string.Equals(entry.Value, "auto", StringComparison.OrdinalIgnoreCase))
            workers = Math.Min(Environment.ProcessorCount, MaxWorkers);
        else if (!int.TryParse(entry.Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out workers)
            || workers < 1 || workers > MaxWorkers)
            throw new ConfigurationException($"{ini.Source}:{entry.Line}: {entry.FlatKey} must be auto or an integer from 1 to {MaxWorkers}, got '{entry.Value}'");
        if (workers > 1 && OperatingSystem.IsWindows())
            throw new ConfigurationException($"{ini.Source}:{entry.Line}: {entry.FlatKey} = {entry.Value}: workers are not available on Windows (no SO_REUSEPORT); remove the key or set it to 1");
        return workers;
    }

    /// <summary>MonaServer's rule: the ini file beside the executable, named after it.</summary>
    public static string DefaultConfigPath(string executablePath) =>
        Path.Combine(Path.GetDirectoryName(executablePath) ?? ".", Path.GetFileNameWithoutExtension(executablePath) + ".ini");

    public static ServerSettings Resolve(CommandLine commandLine, string executablePath)
    {
        string exeDirectory = Path.GetDirectoryName(Path.GetFullPath(executablePath)) ?? ".";
        IniFile ini = LoadIni(commandLine.ConfigPath, executablePath);
        string iniDirectory = ini.Source.Length > 0 ? Path.GetDirectoryName(Path.GetFullPath(ini.Source)) ?? "." : exeDirectory;

        string www = commandLine.WwwDirectory is not null
            ? Path.GetFullPath(commandLine.WwwDirectory)
            : ini.Find("", "www") is { } entry
                ? Path.GetFullPath(Path.Combine(iniDirectory, entry.Value))
                : Path.Combine(exeDirectory, "www");
        if (File.Exists(www))
            throw new ConfigurationException($"www is not a folder: {www}");
        if (!Directory.Exists(www))
            throw new ConfigurationException($"www folder not found: {www}");

        return new ServerSettings(Path.TrimEndingDirectorySeparator(www), commandLine.LogLevel ?? LogLevels.Default, ini,
            LogFilesOf(ini, iniDirectory), TcpLimitsOf(ini))
        { Smtp = SmtpOf(ini), Lua = LuaLimitsOf(ini), DrainTimeoutSeconds = DrainTimeoutOf(ini), Workers = WorkersOf(ini), Tls = TlsFilesOf(ini, iniDirectory), Metrics = MetricsOf(ini), Warnings = UnknownKeys(ini) };
    }

    /// <summary>One warning per entry of a known section whose key MonaAot does not read, with
    /// the closest known key when it is a likely typo.</summary>
    public static List<ConfigWarning> UnknownKeys(IniFile ini)
    {
        var warnings = new List<ConfigWarning>();
        foreach (IniEntry entry in ini.Entries)
        {
            if (!KnownKeys.TryGetValue(entry.Section, out string[]? keys) || Array.Exists(keys, k => string.Equals(k, entry.Key, StringComparison.OrdinalIgnoreCase)))
                continue;
            string where = entry.Section.Length == 0 ? "at the top level" : $"in [{entry.Section}]";
            string? guess = ClosestKey(entry.Key, keys);
            warnings.Add(new ConfigWarning(ini.Source, entry.Line,
                $"unknown key '{entry.Key}' {where}{(guess is null ? "" : $" (did you mean '{guess}'?)")}"));
        }
        return warnings;
    }

    // At most 2 edits (a dropped, doubled or swapped letter, a wrong case aside) and fewer than
    // half the key's letters: close enough to be a typo, far enough that "port" does not
    // suggest "host".
    private static string? ClosestKey(string key, string[] known)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (string candidate in known)
        {
            int distance = EditDistance(key.ToLowerInvariant(), candidate.ToLowerInvariant());
            if (distance < bestDistance)
                (best, bestDistance) = (candidate, distance);
        }
        return bestDistance <= 2 && bestDistance * 2 < key.Length ? best : null;
    }

    /// <summary>Optimal string alignment distance: insertions, deletions, substitutions and
    /// swaps of two neighbours each count 1.</summary>
    private static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++)
            d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++)
            d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }
        return d[a.Length, b.Length];
    }

    /// <summary>[lua] memoryLimit (bytes, 0 for none; at least 1 MiB otherwise), handlerTimeout
    /// (seconds, 0 for none) and cmodules (true or false).</summary>
    public static LuaLimits LuaLimitsOf(IniFile ini)
    {
        LuaLimits defaults = LuaLimits.Default;
        long memory = ini.GetInteger("lua", "memoryLimit", defaults.MemoryLimit, 0, long.MaxValue);
        if (memory is > 0 and < 1 << 20 && ini.Find("lua", "memoryLimit") is { } entry)
            throw new ConfigurationException($"{ini.Source}:{entry.Line}: lua.memoryLimit must be 0 (no limit) or at least 1048576 bytes, got '{entry.Value}'");
        return new LuaLimits(memory, (int)ini.GetInteger("lua", "handlerTimeout", defaults.HandlerTimeoutSeconds, 0, 3600))
        { CModules = ini.GetBoolean("lua", "cmodules", defaults.CModules) };
    }

    /// <summary>[smtp] host, port, timeout (seconds), user, password, tls (docs/api.md: Mail).</summary>
    public static SmtpSettings SmtpOf(IniFile ini)
    {
        SmtpSettings defaults = SmtpSettings.Default;
        SmtpTls tls = defaults.Tls;
        if (ini.Find("smtp", "tls") is { } entry && !SmtpSettings.TryParseTls(entry.Value, out tls))
            throw new ConfigurationException($"{ini.Source}:{entry.Line}: smtp.tls must be auto, starttls, ssl or none, got '{entry.Value}'");
        string host = ini.Find("smtp", "host")?.Value.Trim() is { Length: > 0 } h ? h : defaults.Host;
        string? user = ini.Find("smtp", "user")?.Value is { Length: > 0 } u ? u : null;
        return new SmtpSettings(
            host,
            (int)ini.GetInteger("smtp", "port", defaults.Port, 1, 65535),
            TimeSpan.FromSeconds(ini.GetInteger("smtp", "timeout", (long)defaults.Timeout.TotalSeconds, 1, 3600)),
            user,
            ini.Find("smtp", "password")?.Value,
            tls);
    }

    /// <summary>[tcp] receiveLimit and sendLimit: bytes a connection may keep unconsumed, and
    /// bytes it may have queued for sending; connectTimeout: seconds for each address a
    /// connect tries; idleTimeout: seconds of silence after which a connection ends, 0 for
    /// never; sendTimeout: seconds a closing connection's drain may make no progress
    /// (docs/api.md: Limits).</summary>
    public static TcpLimits TcpLimitsOf(IniFile ini)
    {
        TcpLimits defaults = TcpLimits.Default;
        return defaults with
        {
            MaxUnconsumedBytes = ini.GetInteger("tcp", "receiveLimit", defaults.MaxUnconsumedBytes, 1024, int.MaxValue),
            MaxQueuedBytes = ini.GetInteger("tcp", "sendLimit", defaults.MaxQueuedBytes, 1024, long.MaxValue),
            ConnectTimeoutMs = (int)ini.GetInteger("tcp", "connectTimeout", defaults.ConnectTimeoutMs / 1000, 1, 3600) * 1000,
            IdleTimeoutSeconds = (int)ini.GetInteger("tcp", "idleTimeout", defaults.IdleTimeoutSeconds, 0, 86400),
            SendTimeoutMs = (int)ini.GetInteger("tcp", "sendTimeout", defaults.SendTimeoutMs / 1000, 1, 86400) * 1000,
            TlsHandshakeTimeoutMs = (int)ini.GetInteger("tls", "handshakeTimeout", defaults.TlsHandshakeTimeoutMs / 1000, 1, 3600) * 1000,
        };
    }

    /// <summary>[metrics] port (0-65535, 0 for a free one; absent: no endpoint) and address (an IP
    /// literal, 127.0.0.1 unless given: nothing is exposed beyond the machine unless asked).</summary>
    public static MetricsSettings? MetricsOf(IniFile ini)
    {
        if (ini.Find("metrics", "port") is null)
            return null;
        int port = (int)ini.GetInteger("metrics", "port", 0, 0, 65535);
        IPAddress address = IPAddress.Loopback;
        if (ini.Find("metrics", "address") is { } entry && !IPAddress.TryParse(entry.Value.Trim(), out address!))
            throw new ConfigurationException($"{ini.Source}:{entry.Line}: metrics.address must be an IP address such as 127.0.0.1 or ::, got '{entry.Value}'");
        return new MetricsSettings(address, port);
    }

    /// <summary>[tls] certificate and key (PEM files, relative to the configuration file's
    /// folder): both or neither, and they must exist.</summary>
    public static TlsFiles TlsFilesOf(IniFile ini, string iniDirectory)
    {
        IniEntry? certificate = ini.Find("tls", "certificate");
        IniEntry? key = ini.Find("tls", "key");
        if (certificate is null && key is null)
            return TlsFiles.None;
        if (certificate is null || key is null)
        {
            IniEntry given = (certificate ?? key)!;
            throw new ConfigurationException($"{ini.Source}:{given.Line}: tls.certificate and tls.key go together, got only tls.{given.Key}");
        }
        return new TlsFiles(ExistingFile(ini, certificate, iniDirectory), ExistingFile(ini, key, iniDirectory));
    }

    private static string ExistingFile(IniFile ini, IniEntry entry, string iniDirectory)
    {
        string path = Path.GetFullPath(Path.Combine(iniDirectory, entry.Value.Trim()));
        if (entry.Value.Trim().Length == 0 || !File.Exists(path))
            throw new ConfigurationException($"{ini.Source}:{entry.Line}: tls.{entry.Key}: file not found: {path}");
        return path;
    }

    private static IniFile LoadIni(string? namedPath, string executablePath)
    {
        if (namedPath is not null)
        {
            if (!File.Exists(namedPath))
                throw new ConfigurationException($"configuration file not found: {namedPath}");
            return IniFile.Load(namedPath);
        }
        string defaultPath = DefaultConfigPath(executablePath);
        return File.Exists(defaultPath) ? IniFile.Load(defaultPath) : IniFile.Empty;
    }

    // Files are written only when the ini has a [logs] section: an edge device's flash is not
    // worn by logs nobody asked for (MonaServer writes them unasked; noted in docs/guide.md).
    private static LogFileSettings? LogFilesOf(IniFile ini, string iniDirectory)
    {
        if (!ini.HasSection("logs"))
            return null;
        string directory = ini.Find("logs", "directory")?.Value is { Length: > 0 } d ? d : "logs";
        long maxSize = ini.GetInteger("logs", "maxSize", 1_000_000, 1024, long.MaxValue);
        int rotation = (int)ini.GetInteger("logs", "rotation", 10, 1, 1000);
        return new LogFileSettings(Path.GetFullPath(Path.Combine(iniDirectory, directory)), maxSize, rotation);
    }
}
