using System.Collections.Generic;

namespace MonaAot.Lua.Runtime;

/// <summary>Ids for script objects: what a userdata holds instead of an object reference. A
/// generation per slot makes a stale id (of a collected object) find nothing.</summary>
public sealed class ObjectTable
{
    private readonly List<ScriptObject?> _objects = new();
    private readonly List<int> _generations = new();
    private readonly Stack<int> _free = new();

    public int Count { get; private set; }

    public void Add(ScriptObject obj)
    {
        int id;
        if (_free.Count > 0)
        {
            id = _free.Pop();
            _objects[id] = obj;
        }
        else
        {
            id = _objects.Count;
            _objects.Add(obj);
            _generations.Add(1);
        }
        obj.Id = id;
        obj.Generation = _generations[id];
        Count++;
    }

    public ScriptObject? Find(int id, int generation) =>
        (uint)id < (uint)_objects.Count && _generations[id] == generation ? _objects[id] : null;

    public void Remove(ScriptObject obj)
    {
        if (Find(obj.Id, obj.Generation) != obj)
            return;
        _objects[obj.Id] = null;
        _generations[obj.Id]++;
        _free.Push(obj.Id);
        Count--;
    }
}
