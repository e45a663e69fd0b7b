namespace MonaAot.Lua.Runtime;

/// <summary>Something an application owns that must end with it: its sockets and mails.</summary>
public interface IOwnedResource
{
    /// <summary>Closes without calling script handlers (the application is stopping).</summary>
    void Close();
}

/// <summary>An application, as the objects it creates see it.</summary>
public interface IResourceOwner
{
    void Track(IOwnedResource resource);

    void Untrack(IOwnedResource resource);
}
