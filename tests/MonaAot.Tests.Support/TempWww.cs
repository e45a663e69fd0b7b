using System;
using System.IO;

namespace MonaAot.Tests.Support;

/// <summary>A temporary www folder (and room for an ini file), removed on dispose.</summary>
public sealed class TempWww : IDisposable
{
    public TempWww()
    {
        Root = Path.Combine(Path.GetTempPath(), "monaaot-test-" + Guid.NewGuid().ToString("N"));
        Www = Path.Combine(Root, "www");
        Directory.CreateDirectory(Www);
    }

    public string Root { get; }

    public string Www { get; }

    /// <summary>Writes www/&lt;path&gt;/main.lua ("" is the root application).</summary>
    public string WriteApp(string path, string code)
    {
        string folder = Path.Combine(Www, path.Trim('/'));
        Directory.CreateDirectory(folder);
        string file = Path.Combine(folder, "main.lua");
        // A rewrite within the file system's timestamp granularity must still count as a change:
        // the length differs or the time is pushed forward.
        DateTime before = File.Exists(file) ? File.GetLastWriteTimeUtc(file) : DateTime.MinValue;
        File.WriteAllText(file, code);
        if (File.GetLastWriteTimeUtc(file) <= before)
            File.SetLastWriteTimeUtc(file, before.AddSeconds(1));
        return file;
    }

    /// <summary>Writes www/&lt;relative&gt; (a module: "a/util.lua"), creating its folders, so that
    /// a rewrite counts as a change as <see cref="WriteApp"/> does; returns its path.</summary>
    public string WriteFile(string relative, string code)
    {
        string file = Path.Combine(Www, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        DateTime before = File.Exists(file) ? File.GetLastWriteTimeUtc(file) : DateTime.MinValue;
        File.WriteAllText(file, code);
        if (File.GetLastWriteTimeUtc(file) <= before)
            File.SetLastWriteTimeUtc(file, before.AddSeconds(1));
        return file;
    }

    /// <summary>Writes an ini file in the temporary root and returns its path.</summary>
    public string WriteIni(string text, string name = "test.ini")
    {
        string file = Path.Combine(Root, name);
        File.WriteAllText(file, text);
        return file;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
