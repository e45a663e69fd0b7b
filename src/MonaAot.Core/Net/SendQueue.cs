using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using MonaAot.Interop;

namespace MonaAot.Net;

/// <summary>A fixed-size block of native memory in a send queue.</summary>
internal sealed unsafe class Chunk
{
    public const int Size = 16 * 1024;
    public byte* Data = (byte*)NativeMemory.Alloc(Size);
    public int Start;
    public int End;
    public Chunk? Next;
}

/// <summary>Recycles chunks so that a busy connection does not allocate per message. Keeps at
/// most <see cref="MaxPooled"/> idle chunks (4 MiB); the rest go back to the system.</summary>
internal sealed unsafe class ChunkPool : IDisposable
{
    private const int MaxPooled = 256;
    private readonly Stack<Chunk> _free = new();

    public Chunk Rent()
    {
        if (_free.TryPop(out Chunk? chunk))
            return chunk;
        return new Chunk();
    }

    public void Return(Chunk chunk)
    {
        chunk.Start = chunk.End = 0;
        chunk.Next = null;
        if (_free.Count < MaxPooled)
            _free.Push(chunk);
        else
            NativeMemory.Free(chunk.Data);
    }

    public void Dispose()
    {
        while (_free.TryPop(out Chunk? chunk))
            NativeMemory.Free(chunk.Data);
    }
}

/// <summary>The bytes the kernel did not take yet, in order, in pooled native chunks.</summary>
internal sealed unsafe class SendQueue
{
    private readonly ChunkPool _pool;
    private Chunk? _head;
    private Chunk? _tail;

    public SendQueue(ChunkPool pool) => _pool = pool;

    public long Length { get; private set; }

    public bool IsEmpty => Length == 0;

    public void Append(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            if (_tail is null || _tail.End == Chunk.Size)
            {
                Chunk chunk = _pool.Rent();
                if (_tail is null)
                    _head = chunk;
                else
                    _tail.Next = chunk;
                _tail = chunk;
            }
            int count = Math.Min(data.Length, Chunk.Size - _tail.End);
            data[..count].CopyTo(new Span<byte>(_tail.Data + _tail.End, count));
            _tail.End += count;
            Length += count;
            data = data[count..];
        }
    }

    /// <summary>Sends what the kernel takes. Returns the bytes sent, or -errno on a hard error
    /// (EAGAIN is not one: it just stops).</summary>
    public long Flush(nint fd)
    {
        long sent = 0;
        while (TryPeek(out byte* data, out int length))
        {
            CallResult result = SocketCalls.Send(fd, data, length);
            if (result.Failed)
            {
                if (result.Error == Libc.EINTR)
                    continue;
                return result.Error == Libc.EAGAIN ? sent : -result.Error;
            }
            nint n = result.Value;
            sent += n;
            Consume((int)n);
            if (n < length)
                return sent; // the kernel buffer is full
        }
        return sent;
    }

    /// <summary>The first queued bytes, up to the end of their chunk.</summary>
    public bool TryPeek(out byte* data, out int length)
    {
        if (_head is null)
        {
            data = null;
            length = 0;
            return false;
        }
        data = _head.Data + _head.Start;
        length = _head.End - _head.Start;
        return true;
    }

    /// <summary>Drops <paramref name="count"/> bytes (at most the first chunk's) from the front.</summary>
    public void Consume(int count)
    {
        Chunk chunk = _head!;
        chunk.Start += count;
        Length -= count;
        if (chunk.Start < chunk.End)
            return;
        _head = chunk.Next;
        if (_head is null)
            _tail = null;
        _pool.Return(chunk);
    }

    public void Clear()
    {
        while (_head is not null)
        {
            Chunk chunk = _head;
            _head = chunk.Next;
            _pool.Return(chunk);
        }
        _tail = null;
        Length = 0;
    }
}
