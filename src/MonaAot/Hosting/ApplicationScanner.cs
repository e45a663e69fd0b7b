using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using MonaAot.Reactor;

namespace MonaAot.Hosting;

/// <summary>The version of a main.lua: a change of either field means the file changed.</summary>
public readonly record struct FileStamp(long LastWriteTicks, long Length);

/// <summary>
/// Finds the applications of a www folder (every <c>main.lua</c>, keyed by application path) and
/// watches them: a scan every <see cref="Interval"/> on a thread-pool timer, never on the loop,
/// and a post to the loop only when something changed.
/// </summary>
public sealed class ApplicationScanner : IDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    private readonly string _wwwRoot;
    private readonly EventLoop _loop;
    private readonly Action<SortedDictionary<string, FileStamp>> _onChange;
    private readonly object _gate = new();
    private SortedDictionary<string, FileStamp> _last;
    private Timer? _timer;

    public ApplicationScanner(string wwwRoot, EventLoop loop, SortedDictionary<string, FileStamp> initial, Action<SortedDictionary<string, FileStamp>> onChange)
    {
        _wwwRoot = wwwRoot;
        _loop = loop;
        _last = initial;
        _onChange = onChange;
    }

    public void Start() => _timer = new Timer(_ => Check(), null, Interval, Interval);

    /// <summary>Every main.lua under <paramref name="wwwRoot"/>, in path order (parents first).
    /// Hidden folders (".git") are skipped.</summary>
    public static SortedDictionary<string, FileStamp> Scan(string wwwRoot)
    {
        var found = new SortedDictionary<string, FileStamp>(StringComparer.Ordinal);
        ScanFolder(wwwRoot, "", found);
        return found;
    }

    private static void ScanFolder(string folder, string path, SortedDictionary<string, FileStamp> found)
    {
        try
        {
            var main = new FileInfo(System.IO.Path.Combine(folder, "main.lua"));
            if (main.Exists)
                found[path] = new FileStamp(main.LastWriteTimeUtc.Ticks, main.Length);
            foreach (string child in Directory.EnumerateDirectories(folder))
            {
                string name = System.IO.Path.GetFileName(child);
                if (!name.StartsWith('.'))
                    ScanFolder(child, path + "/" + name, found);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A folder removed or unreadable while scanning: what was found so far stands, and
            // the next scan sees the new state.
        }
    }

    private void Check()
    {
        // Monitor.TryEnter: a scan slower than the interval is not run twice at once.
        if (!Monitor.TryEnter(_gate))
            return;
        try
        {
            if (_timer is null)
                return; // disposed: the loop may be gone
            SortedDictionary<string, FileStamp> current = Scan(_wwwRoot);
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
