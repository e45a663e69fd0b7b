using System.Collections.Generic;

namespace MonaAot.Reactor;

/// <summary>
/// Maps the integer tokens the kernel holds back to handlers. A token is a slot index plus a
/// generation, so an event for a handle that was removed (and whose slot was reused) is
/// recognised as stale and dropped. Token 0 is never issued (the backend's wake uses it).
/// Loop thread only.
/// </summary>
public sealed class HandleTable
{
    private readonly List<IIoHandler?> _handlers = new();
    private readonly List<uint> _generations = new();
    private readonly Stack<int> _free = new();

    public int Count { get; private set; }

    public ulong Add(IIoHandler handler)
    {
        int slot;
        if (_free.Count > 0)
        {
            slot = _free.Pop();
            _handlers[slot] = handler;
        }
        else
        {
            slot = _handlers.Count;
            _handlers.Add(handler);
            _generations.Add(1);
        }
        Count++;
        return ((ulong)_generations[slot] << 32) | (uint)(slot + 1);
    }

    public void Remove(ulong token)
    {
        int slot = SlotOf(token);
        if (slot < 0)
            return;
        _handlers[slot] = null;
        _generations[slot]++;
        _free.Push(slot);
        Count--;
    }

    public IIoHandler? Find(ulong token)
    {
        int slot = SlotOf(token);
        return slot < 0 ? null : _handlers[slot];
    }

    private int SlotOf(ulong token)
    {
        int slot = (int)(uint)token - 1;
        if (slot < 0 || slot >= _handlers.Count || _generations[slot] != (uint)(token >> 32) || _handlers[slot] is null)
            return -1;
        return slot;
    }
}
