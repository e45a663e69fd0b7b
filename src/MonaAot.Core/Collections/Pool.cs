using System.Collections.Generic;

namespace MonaAot.Collections;

/// <summary>
/// Spare objects of one kind, kept for reuse so that a path that makes one per event (an
/// accepted connection) allocates nothing once warm (docs/architecture.md, "Connection
/// pooling"). At most <see cref="Capacity"/> are kept; what is returned beyond that is left to
/// the garbage collector, so a burst does not hold its peak forever. The caller resets what it
/// takes. One thread (the loop's) owns it.
/// </summary>
public sealed class Pool<T> : ISpareObjects where T : class
{
    private readonly Stack<T> _spare = new();

    public Pool(int capacity) => Capacity = capacity;

    public int Capacity { get; }

    /// <summary>Spare objects now.</summary>
    public int Count => _spare.Count;

    /// <summary>A spare object, or null when there is none (the caller makes one).</summary>
    public T? Take() => _spare.TryPop(out T? item) ? item : null;

    /// <summary>Keeps <paramref name="item"/>, which no one else refers to any more, unless the
    /// pool is full.</summary>
    public void Return(T item)
    {
        if (_spare.Count < Capacity)
            _spare.Push(item);
    }

    /// <summary>Drops every spare object (an idle process returning its memory: the idle trim
    /// through <see cref="SpareObjects"/>).</summary>
    public void Clear() => _spare.Clear();

    /// <summary>The spare objects, for tests.</summary>
    internal IEnumerable<T> Spares => _spare;
}
