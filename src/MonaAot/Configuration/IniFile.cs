using System;
using System.Collections.Generic;
using System.IO;

namespace MonaAot.Configuration;

/// <summary>One <c>key=value</c> line. <see cref="Section"/> is "" before the first header.</summary>
public sealed record IniEntry(string Section, string Key, string Value, int Line)
{
    /// <summary>"section.key", or "key" outside any section: the name mona.configs shows.</summary>
    public string FlatKey => Section.Length == 0 ? Key : Section + "." + Key;
}

/// <summary>
/// The ini dialect of MonaServer: <c>[section]</c> headers, <c>key=value</c> lines, whole-line
/// comments starting with <c>;</c> or <c>#</c>. Keys and values are trimmed; a value keeps any
/// <c>;</c> or <c>#</c> inside it (so URLs and passwords survive). A later duplicate key wins.
/// Anything else is an error that names the file and line.
/// </summary>
public sealed class IniFile
{
    private IniFile(string source, List<IniEntry> entries)
    {
        Source = source;
        Entries = entries;
    }

    /// <summary>The file it came from ("" for text parsed directly).</summary>
    public string Source { get; }

    public IReadOnlyList<IniEntry> Entries { get; }

    public static IniFile Empty { get; } = new("", new List<IniEntry>());

    public static IniFile Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationException($"cannot read configuration file {path}: {e.Message}");
        }
        return Parse(text, path);
    }

    public static IniFile Parse(string text, string source)
    {
        var entries = new List<IniEntry>();
        string section = "";
        int lineNumber = 0;
        foreach (string rawLine in text.Split('\n'))
        {
            lineNumber++;
            string line = rawLine.Trim();
            if (line.Length == 0 || line[0] == ';' || line[0] == '#')
                continue;
            if (line[0] == '[')
            {
                if (line[^1] != ']' || line.Length < 3 || line[1..^1].Trim().Length == 0)
                    throw Malformed(source, lineNumber, rawLine, "a section header is [name]");
                section = line[1..^1].Trim();
                continue;
            }
            int equals = line.IndexOf('=');
            if (equals <= 0 || line[..equals].Trim().Length == 0)
                throw Malformed(source, lineNumber, rawLine, "expected key=value");
            entries.Add(new IniEntry(section, line[..equals].Trim(), line[(equals + 1)..].Trim(), lineNumber));
        }
        return new IniFile(source, entries);
    }

    /// <summary>The last entry for section/key (case-insensitive), or null.</summary>
    public IniEntry? Find(string section, string key)
    {
        for (int i = Entries.Count - 1; i >= 0; i--)
        {
            IniEntry entry = Entries[i];
            if (string.Equals(entry.Section, section, StringComparison.OrdinalIgnoreCase)
                && string.Equals(entry.Key, key, StringComparison.OrdinalIgnoreCase))
                return entry;
        }
        return null;
    }

    public bool HasSection(string section)
    {
        foreach (IniEntry entry in Entries)
        {
            if (string.Equals(entry.Section, section, StringComparison.OrdinalIgnoreCase))
                return true;
        }
        return false;
    }

    /// <summary>An integer setting within [min, max], or <paramref name="fallback"/> when absent.</summary>
    public long GetInteger(string section, string key, long fallback, long min, long max)
    {
        IniEntry? entry = Find(section, key);
        if (entry is null)
            return fallback;
        if (!long.TryParse(entry.Value, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out long value)
            || value < min || value > max)
            throw new ConfigurationException($"{Source}:{entry.Line}: {entry.FlatKey} must be an integer from {min} to {max}, got '{entry.Value}'");
        return value;
    }

    /// <summary>A true/false setting (either case, as mona.configs reads them), or
    /// <paramref name="fallback"/> when absent.</summary>
    public bool GetBoolean(string section, string key, bool fallback)
    {
        IniEntry? entry = Find(section, key);
        if (entry is null)
            return fallback;
        if (string.Equals(entry.Value, "true", StringComparison.OrdinalIgnoreCase))
            return true;
        if (string.Equals(entry.Value, "false", StringComparison.OrdinalIgnoreCase))
            return false;
        throw new ConfigurationException($"{Source}:{entry.Line}: {entry.FlatKey} must be true or false, got '{entry.Value}'");
    }

    private static ConfigurationException Malformed(string source, int line, string text, string expected) =>
        new($"{source}:{line}: malformed line '{text.Trim()}' ({expected})");
}
