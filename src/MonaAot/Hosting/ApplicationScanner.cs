using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using MonaAot.Reactor;

namespace MonaAot.Hosting;

/// <summary>The version of a main.lua: a change of either field means the file changed.</summary>
public readonly record struct FileStamp(long LastWriteNs, long Length);

/// <summary>
/// Finds the applications of a www folder (every <c>main.lua</c>, keyed by application path) and
/// watches them: a check every <see cref="Interval"/> on a thread of its own (a
/// <see cref="PeriodicThread"/>), never on the loop,
/// and a post to the loop only when something changed. The check stats every folder and
/// main.lua found by the last scan and allocates nothing; only when one of them changed (a
/// folder's time changes when an entry is added or removed) is the tree scanned again. So the
/// watcher costs the managed heap nothing while nothing changes. It also stats the module
/// files the applications found (or looked for) through <c>require</c>, as the host hands them
/// over (<see cref="WatchModules"/>), and tells the host when one of them changed, appeared or
/// vanished (docs/architecture.md, "Modules").
/// </summary>
public sealed class ApplicationScanner : IDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    private readonly string _wwwRoot;
    private readonly EventLoop _loop;
    private readonly Action<SortedDictionary<string, FileStamp>> _onChange;
    private readonly Action? _onModulesChanged;
    private readonly object _gate = new();
    private SortedDictionary<string, FileStamp> _last;
    private List<WatchedFile> _watched;
    // Written by the loop thread, read by the timer's: replaced whole, never changed in place.
    private volatile WatchedFile[] _modules = [];
    // The module list a change was last reported for: reported once, until the host hands over
    // the list it made after handling it.
    private WatchedFile[]? _modulesReported;
    private PeriodicThread? _timer;

    public ApplicationScanner(string wwwRoot, EventLoop loop, Action<SortedDictionary<string, FileStamp>> onChange, Action? onModulesChanged = null)
    {
        _wwwRoot = wwwRoot;
        _loop = loop;
        _onChange = onChange;
        _onModulesChanged = onModulesChanged;
        _watched = new List<WatchedFile>();
        _last = Scan(wwwRoot, _watched);
    }

    /// <summary>The main.lua files found at construction.</summary>
    public SortedDictionary<string, FileStamp> Initial => _last;

    /// <summary>The module files to watch from now on (each with the version its application
    /// loaded), replacing the previous list. Called on the loop thread.</summary>
    public void WatchModules(WatchedFile[] modules) => _modules = modules;

    public void Start() => _timer = new PeriodicThread("www watcher", Interval, Check);

    /// <summary>Every main.lua under <paramref name="wwwRoot"/>, in path order (parents first).
    /// Hidden folders (".git") are skipped.</summary>
    public static SortedDictionary<string, FileStamp> Scan(string wwwRoot) => Scan(wwwRoot, new List<WatchedFile>());

    private static SortedDictionary<string, FileStamp> Scan(string wwwRoot, List<WatchedFile> watched)
    {
        var found = new SortedDictionary<string, FileStamp>(StringComparer.Ordinal);
        ScanFolder(wwwRoot, "", found, watched);
        return found;
    }

    private static void ScanFolder(string folder, string path, SortedDictionary<string, FileStamp> found, List<WatchedFile> watched)
    {
        // Stat before listing: a change made while listing shows at the next check.
        Watch(folder, watched);
        WatchedFile main = Watch(System.IO.Path.Combine(folder, "main.lua"), watched);
        if (main.Kind == 0)
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

    private static WatchedFile Watch(string path, List<WatchedFile> watched)
    {
        WatchedFile entry = WatchedFile.Stat(path);
        watched.Add(entry);
        return entry;
    }

    private static bool Unchanged(List<WatchedFile> watched)
    {
        foreach (WatchedFile entry in watched)
        {
            if (entry.Changed())
                return false;
        }
        return true;
    }

    private static bool Unchanged(WatchedFile[] watched)
    {
        foreach (WatchedFile entry in watched)
        {
            if (entry.Changed())
                return false;
        }
        return true;
    }

    /// <summary>One check (the timer's; tests call it directly).</summary>
    internal void Check()
    {
        // Monitor.TryEnter: a check slower than the interval is not run twice at once.
        if (!Monitor.TryEnter(_gate))
            return;
        try
        {
            if (_timer is null)
                return; // disposed: the loop may be gone
            WatchedFile[] modules = _modules;
            if (_onModulesChanged is not null && modules != _modulesReported && !Unchanged(modules))
            {
                _modulesReported = modules;
                _loop.Post(_onModulesChanged);
            }
            if (!Unchanged(_watched))
                Rescan();
        }
        finally
        {
            Monitor.Exit(_gate);
        }
    }

    /// <summary>Scans the tree again and reports a change of its main.lua files. A method of its
    /// own: the closure below, were it in <see cref="Check"/>, would be allocated at every check
    /// (C# allocates a closure's captured variables where their scope begins).</summary>
    private void Rescan()
    {
        var watched = new List<WatchedFile>();
        SortedDictionary<string, FileStamp> current = Scan(_wwwRoot, watched);
        _watched = watched;
        if (SameAs(current, _last))
            return;
        _last = current;
        _loop.Post(() => _onChange(current));
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
