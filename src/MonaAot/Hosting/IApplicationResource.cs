namespace MonaAot.Hosting;

/// <summary>
/// Something an application owns that must end with it: its sockets and pending mails. The host
/// closes every resource of an application when the application stops, reloads or is removed.
/// </summary>
public interface IApplicationResource
{
    void Close();
}
