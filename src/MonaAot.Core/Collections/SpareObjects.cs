using System.Collections.Generic;

namespace MonaAot.Collections;

/// <summary>Objects kept for reuse that an idle process may drop to give their memory back
/// (a <see cref="Pool{T}"/>).</summary>
public interface ISpareObjects
{
    /// <summary>Spare objects now.</summary>
    int Count { get; }

    /// <summary>Drops every spare object: the next ones are made anew.</summary>
    void Clear();
}

/// <summary>
/// The spare objects of one loop's users (accepted connections, Lua clients), reachable from
/// the idle trim (docs/architecture.md, "Memory upkeep") without the core knowing who keeps
/// them. One thread (the loop's) owns it.
/// </summary>
public sealed class SpareObjects
{
    private readonly List<ISpareObjects> _kept = [];

    /// <summary>What is registered, in order.</summary>
    public IReadOnlyList<ISpareObjects> Kept => _kept;

    public void Add(ISpareObjects spares) => _kept.Add(spares);

    /// <summary>Drops the spare objects of every registered keeper; returns how many there were.</summary>
    public int DropAll()
    {
        int dropped = 0;
        foreach (ISpareObjects spares in _kept)
        {
            dropped += spares.Count;
            spares.Clear();
        }
        return dropped;
    }
}
