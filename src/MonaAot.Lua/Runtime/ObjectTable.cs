using System.Runtime.CompilerServices;
using MonaAot.Collections;

namespace MonaAot.Lua.Runtime;

/// <summary>Ids for script objects: what a userdata holds instead of an object reference. A
/// generation per slot (<see cref="SlotMap{T}"/>) makes a stale id (of a collected object) find
/// nothing.</summary>
public sealed class ObjectTable : SlotMap<ScriptObject>
{
    public void Add(ScriptObject obj)
    {
        obj.Id = Add(obj, out uint generation);
        obj.Generation = (int)generation;
    }

    /// <summary>On every method call's self check (ScriptType.Check): inlined to the slot map's
    /// lookup.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ScriptObject? Find(int id, int generation) => base.Find(id, (uint)generation);

    public void Remove(ScriptObject obj)
    {
        if (Find(obj.Id, obj.Generation) == obj)
            Remove(obj.Id, (uint)obj.Generation);
    }
}
