using System.Collections.Generic;

namespace MonaAot.Modules;

/// <summary>What the <c>mona</c> table shows of the server that hosts the scripts (docs/api.md,
/// "mona"); the host implements it, so that the Lua side needs nothing of its configuration
/// code.</summary>
public interface IMonaHost
{
    /// <summary>The www folder, without a trailing separator: what mona:absolutePath starts from.</summary>
    string WwwRoot { get; }

    /// <summary>The configuration entries in file order: mona.configs.</summary>
    IEnumerable<MonaConfig> Configs { get; }

    /// <summary>mona.worker: which worker of <c>[server] workers</c> this process is, from 1.</summary>
    int Worker => 1;

    /// <summary>mona.workers: how many workers serve www (1 without <c>[server] workers</c>).</summary>
    int Workers => 1;
}

/// <summary>One configuration entry as mona.configs shows it: under <paramref name="FlatKey"/>
/// ("section.key") and as configs[section][key] (<paramref name="Section"/> "" for a top-level
/// key). <paramref name="Value"/> is typed for scripts: a bool, long, double or string.</summary>
public readonly record struct MonaConfig(string Section, string Key, string FlatKey, object Value);
