using System;

namespace MonaAot.Metrics;

/// <summary>What a request head asks of the metrics endpoint.</summary>
public enum MetricsRequestKind
{
    /// <summary>No CRLFCRLF yet and still under the size limit: wait for more bytes.</summary>
    Incomplete,
    /// <summary>Not an HTTP/1.x request head, or over <see cref="MetricsRequest.MaxHeadBytes"/>:
    /// the connection is closed without an answer.</summary>
    Malformed,
    /// <summary>GET /metrics (a query string is ignored).</summary>
    Metrics,
    /// <summary>GET of another path: 404.</summary>
    NotFound,
    /// <summary>Another method: 405.</summary>
    MethodNotAllowed,
}

/// <summary>
/// Reads the one request head the metrics endpoint answers (docs/api.md, "[metrics]"): the
/// request line must be <c>METHOD SP /target SP HTTP/1.x</c>, every header line must hold a
/// colon, and the whole head must end (CRLFCRLF) within 8 KiB. A body is never read.
/// </summary>
public static class MetricsRequest
{
    public const int MaxHeadBytes = 8 * 1024;

    public static MetricsRequestKind Parse(ReadOnlySpan<byte> data)
    {
        int end = data.IndexOf("\r\n\r\n"u8);
        if (end < 0)
            return data.Length > MaxHeadBytes ? MetricsRequestKind.Malformed : MetricsRequestKind.Incomplete;
        if (end + 4 > MaxHeadBytes)
            return MetricsRequestKind.Malformed;
        ReadOnlySpan<byte> head = data[..(end + 2)];
        int lineEnd = head.IndexOf("\r\n"u8);
        ReadOnlySpan<byte> requestLine = head[..lineEnd];
        for (ReadOnlySpan<byte> rest = head[(lineEnd + 2)..]; rest.Length > 0;)
        {
            int next = rest.IndexOf("\r\n"u8);
            ReadOnlySpan<byte> header = rest[..next];
            if (header.IndexOf((byte)':') <= 0 || ContainsControl(header))
                return MetricsRequestKind.Malformed;
            rest = rest[(next + 2)..];
        }

        int firstSpace = requestLine.IndexOf((byte)' ');
        int lastSpace = requestLine.LastIndexOf((byte)' ');
        if (firstSpace <= 0 || lastSpace <= firstSpace + 1)
            return MetricsRequestKind.Malformed;
        ReadOnlySpan<byte> method = requestLine[..firstSpace];
        ReadOnlySpan<byte> target = requestLine[(firstSpace + 1)..lastSpace];
        ReadOnlySpan<byte> version = requestLine[(lastSpace + 1)..];
        if (!IsToken(method) || target[0] != (byte)'/' || target.IndexOf((byte)' ') >= 0 || ContainsControl(target)
            || !(version.SequenceEqual("HTTP/1.1"u8) || version.SequenceEqual("HTTP/1.0"u8)))
            return MetricsRequestKind.Malformed;
        if (!method.SequenceEqual("GET"u8))
            return MetricsRequestKind.MethodNotAllowed;
        int query = target.IndexOf((byte)'?');
        ReadOnlySpan<byte> path = query < 0 ? target : target[..query];
        return path.SequenceEqual("/metrics"u8) ? MetricsRequestKind.Metrics : MetricsRequestKind.NotFound;
    }

    private static bool IsToken(ReadOnlySpan<byte> method)
    {
        foreach (byte b in method)
        {
            if (b is < (byte)'A' or > (byte)'Z')
                return false;
        }
        return true;
    }

    private static bool ContainsControl(ReadOnlySpan<byte> text)
    {
        foreach (byte b in text)
        {
            if (b < 0x20 && b != (byte)'\t' || b == 0x7f)
                return true;
        }
        return false;
    }
}
