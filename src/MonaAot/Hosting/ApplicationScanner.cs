using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Threading;
using MonaAot.Lua.Native;
using MonaAot.Reactor;

namespace MonaAot.Hosting;

/// <summary>The version of a main.lua: a change of either field means the file changed.</summary>
public readonly record struct FileStamp(long LastWriteNs, long Length);

/// <summary>
/// Finds the applications of a www folder (every <c>main.lua</c>, keyed by application path) and
/// watches them: a check every <see cref="Interval"/> on a thread-pool timer, never on the loop,
/// and a post to the loop only when something changed. The check stats every folder and
/// main.lua found by the last scan and allocates nothing; only when one of them changed (a
/// folder's time changes when an entry is added or removed) is the tree scanned again. So the
/// watcher costs the managed heap nothing while nothing changes.
/// </summary>
public sealed unsafe class ApplicationScanner : IDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    /// <summary>A folder or main.lua of the last scan, with the version it had then.</summary>
    private sealed class Watched(byte[] path, int kind, long mtimeNs, long size)
    {
        public readonly byte[] Path = path; // UTF-8, NUL-terminated, for mona_stat
        public readonly int Kind = kind;
        public readonly long MtimeNs = mtimeNs;
        public readonly long Size = size;
    }

    private readonly string _wwwRoot;
    private readonly EventLoop _loop;
    private readonly Action<SortedDictionary<string, FileStamp>> _onChange;
    private readonly object _gate = new();
    private SortedDictionary<string, FileStamp> _last;
    private List<Watched> _watched;
    private Timer? _timer;

    public ApplicationScanner(string wwwRoot, EventLoop loop, Action<SortedDictionary<string, FileStamp>> onChange)
    {
        _wwwRoot = wwwRoot;
        _loop = loop;
        _onChange = onChange;
        _watched = new List<Watched>();
        _last = Scan(wwwRoot, _watched);
    }

    /// <summary>The main.lua files found at construction.</summary>
    public SortedDictionary<string, FileStamp> Initial => _last;

    public void Start() => _timer = new Timer(_ => Check(), null, Interval, Interval);

    /// <summary>Every main.lua under <paramref name="wwwRoot"/>, in path order (parents first).
    /// Hidden folders (".git") are skipped.</summary>
    public static SortedDictionary<string, FileStamp> Scan(string wwwRoot) => Scan(wwwRoot, new List<Watched>());

    private static SortedDictionary<string, FileStamp> Scan(string wwwRoot, List<Watched> watched)
    {
        var found = new SortedDictionary<string, FileStamp>(StringComparer.Ordinal);
        ScanFolder(wwwRoot, "", found, watched);
        return found;
    }

    private static void ScanFolder(string folder, string path, SortedDictionary<string, FileStamp> found, List<Watched> watched)
    {
        // Stat before listing: a change made while listing shows at the next check.
        Watch(folder, watched);
        Watched? main = Watch(System.IO.Path.Combine(folder, "main.lua"), watched);
        if (main is { Kind: 0 })
            found[path] = new FileStamp(main.MtimeNs, main.Size);
        try
        {
            foreach (string child in Directory.EnumerateDirectories(folder))
            {
                string name = System.IO.Path.GetFileName(child);
                if (!name.StartsWith('.'))
                    ScanFolder(child, path + "/" + name, found, watched);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A folder removed or unreadable while scanning: its stamp differs next time.
        }
    }

    private static Watched? Watch(string path, List<Watched> watched)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(path + "\0");
        long mtime, size;
        int kind;
        fixed (byte* p = bytes)
            kind = Shim.mona_stat(p, &mtime, &size);
        var entry = new Watched(bytes, kind, kind < 0 ? 0 : mtime, kind < 0 ? 0 : size);
        watched.Add(entry);
        return kind < 0 ? null : entry;
    }

    private static bool Unchanged(List<Watched> watched)
    {
        foreach (Watched entry in watched)
        {
            long mtime = 0, size = 0;
            int kind;
            fixed (byte* p = entry.Path)
                kind = Shim.mona_stat(p, &mtime, &size);
            if (kind != entry.Kind || (kind >= 0 && (mtime != entry.MtimeNs || size != entry.Size)))
                return false;
        }
        return true;
    }

    private void Check()
    {
        // Monitor.TryEnter: a check slower than the interval is not run twice at once.
        if (!Monitor.TryEnter(_gate))
            return;
        try
        {
            if (_timer is null || Unchanged(_watched))
                return; // disposed (the loop may be gone), or nothing to do
            var watched = new List<Watched>();
            SortedDictionary<string, FileStamp> current = Scan(_wwwRoot, watched);
            _watched = watched;
            if (SameAs(current, _last))
                return;
            _last = current;
            _loop.Post(() => _onChange(current));
        }
        finally
        {
            Monitor.Exit(_gate);
        }
    }

    private static bool SameAs(SortedDictionary<string, FileStamp> a, SortedDictionary<string, FileStamp> b)
    {
        if (a.Count != b.Count)
            return false;
        foreach (KeyValuePair<string, FileStamp> pair in a)
        {
            if (!b.TryGetValue(pair.Key, out FileStamp stamp) || stamp != pair.Value)
                return false;
        }
        return true;
    }

    public void Dispose()
    {
        _timer?.Dispose();
        lock (_gate)
            _timer = null;
    }
}
