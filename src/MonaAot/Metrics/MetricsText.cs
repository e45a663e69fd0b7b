using System;
using System.Buffers.Text;
using System.Text;

namespace MonaAot.Metrics;

/// <summary>
/// Prometheus text exposition format (version 0.0.4) written into one buffer that is kept and
/// reused from scrape to scrape: producing the text allocates nothing once the buffer has grown
/// to its size. Every sample carries the <c>worker</c> label.
/// </summary>
public sealed class MetricsText
{
    private byte[] _buffer = new byte[4096];
    private int _length;
    private int _worker = 1;

    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, _length);

    public void Begin(int worker)
    {
        _length = 0;
        _worker = worker;
    }

    public void Counter(string name, string help, long value) => Sample(name, "counter", help, null, value, 0, false);

    public void Gauge(string name, string help, long value) => Sample(name, "gauge", help, null, value, 0, false);

    /// <summary>A gauge of milliseconds written in seconds (the unit Prometheus names want).</summary>
    public void GaugeSeconds(string name, string help, long milliseconds) => Sample(name, "gauge", help, null, 0, milliseconds / 1000.0, true);

    /// <summary>A counter with one extra label; the HELP and TYPE lines go only with the first
    /// sample (<paramref name="first"/>).</summary>
    public void LabelledCounter(string name, string help, bool first, string label, long value)
    {
        if (first)
            Describe(name, "counter", help);
        Line(name, label, value, 0, false);
    }

    private void Sample(string name, string type, string help, string? label, long integer, double number, bool isDouble)
    {
        Describe(name, type, help);
        Line(name, label, integer, number, isDouble);
    }

    private void Describe(string name, string type, string help)
    {
        Ascii("# HELP ");
        Ascii(name);
        Ascii(" ");
        Ascii(help);
        Ascii("\n# TYPE ");
        Ascii(name);
        Ascii(" ");
        Ascii(type);
        Ascii("\n");
    }

    private void Line(string name, string? label, long integer, double number, bool isDouble)
    {
        Ascii(name);
        Ascii("{worker=\"");
        Integer(_worker);
        Ascii("\"");
        if (label is not null)
        {
            Ascii(",");
            Ascii(label);
        }
        Ascii("} ");
        if (isDouble)
        {
            Reserve(32);
            Utf8Formatter.TryFormat(number, _buffer.AsSpan(_length), out int n);
            _length += n;
        }
        else
        {
            Integer(integer);
        }
        Ascii("\n");
    }

    private void Integer(long value)
    {
        Reserve(20);
        Utf8Formatter.TryFormat(value, _buffer.AsSpan(_length), out int n);
        _length += n;
    }

    private void Ascii(string text)
    {
        Reserve(text.Length);
        _length += Encoding.ASCII.GetBytes(text, _buffer.AsSpan(_length));
    }

    private void Reserve(int bytes)
    {
        if (_length + bytes > _buffer.Length)
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + bytes));
    }
}
