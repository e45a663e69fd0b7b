using System.Collections.Generic;
using MonaAot.Configuration;
using MonaAot.Modules;

namespace MonaAot.Hosting;

/// <summary>What the <c>mona</c> table shows of this server: its www folder and its
/// configuration file, values typed (<see cref="ConfigValue"/>).</summary>
public sealed class MonaHost(IniFile ini, string wwwRoot, int worker = 1, int workers = 1) : IMonaHost
{
    public string WwwRoot { get; } = wwwRoot;

    public int Worker { get; } = worker;

    public int Workers { get; } = workers;

    public IEnumerable<MonaConfig> Configs
    {
        get
        {
            foreach (IniEntry entry in ini.Entries)
                yield return new MonaConfig(entry.Section, entry.Key, entry.FlatKey, Typed(ConfigValue.Parse(entry.Value)));
        }
    }

    private static object Typed(ConfigValue value) => value.Type switch
    {
        ConfigValue.Kind.Boolean => value.Boolean,
        ConfigValue.Kind.Integer => value.Integer,
        ConfigValue.Kind.Float => value.Number,
        _ => value.Text,
    };
}
