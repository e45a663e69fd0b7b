using MonaAot.Collections;

namespace MonaAot.Reactor;

/// <summary>
/// Maps the integer tokens the kernel holds back to handlers. A token is a slot index plus a
/// generation (<see cref="SlotMap{T}"/>), so an event for a handle that was removed (and whose
/// slot was reused) is recognised as stale and dropped. Token 0 is never issued (the backend's
/// wake uses it): the low half is the slot plus one. Loop thread only.
/// </summary>
public sealed class HandleTable : SlotMap<IIoHandler>
{
    public ulong Add(IIoHandler handler)
    {
        int slot = Add(handler, out uint generation);
        return ((ulong)generation << 32) | (uint)(slot + 1);
    }

    public void Remove(ulong token) => Remove((int)(uint)token - 1, (uint)(token >> 32));

    public IIoHandler? Find(ulong token) => base.Find((int)(uint)token - 1, (uint)(token >> 32));
}
