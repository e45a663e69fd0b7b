using System;
using System.IO;
using System.Text;
using MonaAot.Configuration;
using MonaAot.Diagnostics;

namespace MonaAot.Logging;

/// <summary>
/// MonaServer's size-based rotation: lines go to <c>log.0</c>; when it would pass MaxSize it
/// becomes <c>log.1</c> (older files shift up) and a new <c>log.0</c> starts; <c>Rotation</c>
/// files are kept in all. Called under the logger's lock.
/// </summary>
public sealed class RotatingFileLogSink : ILogSink, IDisposable
{
    private readonly LogFileSettings _settings;
    private FileStream? _file;
    private volatile bool _reopen;

    public RotatingFileLogSink(LogFileSettings settings)
    {
        _settings = settings;
        Directory.CreateDirectory(settings.Directory);
    }

    public void Write(in LogEntry entry) => WriteLine(entry.Format());

    public void WriteLine(string text)
    {
        byte[] line = Encoding.UTF8.GetBytes(text + "\n");
        if (_reopen)
        {
            _reopen = false;
            _file?.Dispose();
            _file = null;
        }
        FileStream file = _file ??= Open();
        if (file.Length > 0 && file.Length + line.Length > _settings.MaxSize)
        {
            file.Dispose();
            Rotate();
            file = _file = Open();
        }
        file.Write(line);
        file.Flush();
    }

    /// <summary>
    /// SIGHUP: the next line goes to a <c>log.0</c> opened anew, so a file renamed by logrotate
    /// (or by hand) stops growing and a new one starts. Any thread: the switch itself happens
    /// in <see cref="Write"/>, under the logger's lock.
    /// </summary>
    public void Reopen() => _reopen = true;

    private string PathOf(int index) => Path.Combine(_settings.Directory, "log." + index);

    private FileStream Open() => new(PathOf(0), FileMode.Append, FileAccess.Write, FileShare.ReadWrite);

    private void Rotate()
    {
        File.Delete(PathOf(_settings.Rotation - 1));
        for (int i = _settings.Rotation - 2; i >= 0; i--)
        {
            if (File.Exists(PathOf(i)))
                File.Move(PathOf(i), PathOf(i + 1), overwrite: true);
        }
    }

    public void Dispose() => _file?.Dispose();
}
