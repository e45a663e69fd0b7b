using System.Text;
using MonaAot.Lua.Native;

namespace MonaAot.Hosting;

/// <summary>
/// A path and the version it had when stated (kind, modification time, size; kind -1 when it
/// did not exist), for the www watcher (<see cref="ApplicationScanner"/>): <see cref="Changed"/>
/// stats it again without allocating, so a check costs the managed heap nothing while nothing
/// changes.
/// </summary>
public sealed unsafe class WatchedFile
{
    private WatchedFile(string path, byte[] bytes, int kind, long mtimeNs, long size)
    {
        Path = path;
        Bytes = bytes;
        Kind = kind;
        MtimeNs = mtimeNs;
        Size = size;
    }

    public string Path { get; }

    /// <summary>UTF-8, NUL-terminated, for mona_stat.</summary>
    private byte[] Bytes { get; }

    /// <summary>0 a file, 1 a folder, -1 nothing there (mona_file.h).</summary>
    public int Kind { get; }

    public long MtimeNs { get; }

    public long Size { get; }

    public bool Exists => Kind >= 0;

    public static WatchedFile Stat(string path)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(path + "\0");
        long mtime, size;
        int kind;
        fixed (byte* p = bytes)
            kind = Shim.mona_stat(p, &mtime, &size);
        return kind < 0 ? new WatchedFile(path, bytes, kind, 0, 0) : new WatchedFile(path, bytes, kind, mtime, size);
    }

    /// <summary>Whether the path now differs from the version stated (appeared, vanished, or
    /// was written).</summary>
    public bool Changed()
    {
        long mtime = 0, size = 0;
        int kind;
        fixed (byte* p = Bytes)
            kind = Shim.mona_stat(p, &mtime, &size);
        return kind != Kind || (kind >= 0 && (mtime != MtimeNs || size != Size));
    }
}
