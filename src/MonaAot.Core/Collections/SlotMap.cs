using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;

namespace MonaAot.Collections;

/// <summary>
/// Values by slot and generation: what is handed out instead of an object reference (to the
/// kernel as a reactor token, to Lua inside a userdata), so that a stale id, of a value removed
/// and its slot perhaps reused, finds nothing. Removing a value advances its slot's generation;
/// generations start at 1 and are never 0. One thread (the loop's) owns it. The callers' own
/// forms (<see cref="MonaAot.Reactor.HandleTable"/>'s tokens, the script objects' id and
/// generation) derive from it, so a lookup is one call with no indirection.
/// </summary>
public class SlotMap<T> where T : class
{
    private struct Entry
    {
        public T? Value;
        public uint Generation; // 0 only for slots never used
    }

    private Entry[] _entries = [];
    private int _used; // slots ever used
    private readonly Stack<int> _free = new();

    public int Count { get; private set; }

    /// <summary>Stores <paramref name="value"/>; returns its slot, with its generation in
    /// <paramref name="generation"/>.</summary>
    public int Add(T value, out uint generation)
    {
        int slot;
        if (_free.Count > 0)
        {
            slot = _free.Pop();
        }
        else
        {
            if (_used == _entries.Length)
                Array.Resize(ref _entries, Math.Max(16, _used * 2));
            slot = _used++;
            _entries[slot].Generation = 1;
        }
        _entries[slot].Value = value;
        generation = _entries[slot].Generation;
        Count++;
        return slot;
    }

    /// <summary>The value at <paramref name="slot"/> if it is still of
    /// <paramref name="generation"/>; null otherwise (any slot number is safe).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T? Find(int slot, uint generation)
    {
        Entry[] entries = _entries;
        if ((uint)slot >= (uint)entries.Length)
            return null;
        ref Entry entry = ref entries[slot];
        return entry.Generation == generation ? entry.Value : null;
    }

    /// <summary>Removes the value at <paramref name="slot"/> if it is still of
    /// <paramref name="generation"/>; false (nothing removed) for a stale or unknown id.</summary>
    public bool Remove(int slot, uint generation)
    {
        if ((uint)slot >= (uint)_entries.Length)
            return false;
        ref Entry entry = ref _entries[slot];
        if (entry.Generation != generation || entry.Value is null)
            return false;
        entry.Value = null;
        if (++entry.Generation == 0)
            entry.Generation = 1;
        _free.Push(slot);
        Count--;
        return true;
    }
}
