using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Threading.Tasks;
using MonaAot.Diagnostics;
using MonaAot.Interop;
using MonaAot.Net;
using MonaAot.Reactor;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;
using TUnit.Core.Enums;

namespace MonaAot.Tests.Reactor;

/// <summary>
/// The loop's edges on Linux: a close that epoll refuses to detach still closes, a wake that
/// comes after the loop is gone writes nowhere, and a call's errno travels with its result.
/// They run alone ([NotInParallel]): they reason about descriptor numbers, which another
/// test's sockets could take in between.
/// </summary>
[RunOn(OS.Linux)]
[NotInParallel]
[SupportedOSPlatform("linux")]
public sealed partial class ReactorRiskTests
{
    private sealed class NoHandler : IIoHandler
    {
        public void OnIo(in IoEvent ev) { }
    }

    /// <summary>The kernel's name for the open file behind <paramref name="fd"/> ("socket:[inode]"),
    /// or null when the number is not open.</summary>
    private static string? FileOf(int fd) => new FileInfo($"/proc/self/fd/{fd}").LinkTarget;

    [Test]
    public async Task Close_DescriptorEpollDoesNotKnow_StillRemovesTheHandleAndClosesIt()
    {
        using EventLoop loop = EventLoop.CreateDefault();
        using var net = new NetContext(loop, new Logger());
        CallResult opened = SocketCalls.OpenStream(SocketCalls.AF_INET);
        await Assert.That(opened.Failed).IsFalse();
        nint fd = opened.Value;
        string? file = FileOf((int)fd);
        ulong token = net.Attach(fd, new NoHandler(), IoEvents.Readable);
        loop.Backend.Detach(fd); // epoll forgets it: the close's own EPOLL_CTL_DEL gets ENOENT

        Exception? thrown = null;
        try
        {
            net.Close(fd, token);
        }
        catch (Exception e)
        {
            thrown = e;
        }

        await Assert.That(thrown).IsNull();
        await Assert.That(loop.Handles.Find(token)).IsNull();
        await Assert.That(net.OpenSockets).IsEqualTo(0);
        await Assert.That(FileOf((int)fd)).IsNotEqualTo(file); // closed (the number is free, or reused by a new file)
    }

    [Test]
    public async Task Detach_DescriptorClosedBehindTheLoopsBack_DoesNotThrow()
    {
        using EventLoop loop = EventLoop.CreateDefault();
        CallResult opened = SocketCalls.OpenStream(SocketCalls.AF_INET);
        loop.Backend.Attach(opened.Value, 1, IoEvents.Readable);
        SocketCalls.Close(opened.Value); // epoll drops it by itself; DEL now says EBADF

        Exception? thrown = null;
        try
        {
            loop.Backend.Detach(opened.Value);
        }
        catch (Exception e)
        {
            thrown = e;
        }

        await Assert.That(thrown).IsNull();
    }

    [Test]
    public async Task Change_DescriptorClosedBehindTheLoopsBack_ThrowsWithItsErrno()
    {
        using EventLoop loop = EventLoop.CreateDefault();
        CallResult opened = SocketCalls.OpenStream(SocketCalls.AF_INET);
        loop.Backend.Attach(opened.Value, 1, IoEvents.Readable);
        SocketCalls.Close(opened.Value);

        string? message = null;
        try
        {
            loop.Backend.Change(opened.Value, 1, IoEvents.Writable);
        }
        catch (InvalidOperationException e)
        {
            message = e.Message;
        }

        await Assert.That(message).Contains($"errno {Libc.EBADF}");
    }

    [Test]
    public async Task PostAndWake_AfterDispose_WriteNothingToTheReusedWakeDescriptor()
    {
        EventLoop loop = EventLoop.CreateDefault();
        int wakeFd = loop.Epoll.WakeDescriptor;
        loop.Dispose();
        using var pipe = new Pipe(wakeFd); // its write end takes the wake descriptor's number, as any new file could
        await Assert.That(pipe.Writer).IsEqualTo(wakeFd);
        bool ran = false;

        await Task.Run(() =>
        {
            loop.Post(() => ran = true);
            loop.Backend.Wake();
            loop.Stop();
        });

        await Assert.That(pipe.Available()).IsEqualTo(0);
        await Assert.That(ran).IsFalse();
    }

    [Test]
    public async Task Dispose_Twice_ClosesOnce()
    {
        EventLoop loop = EventLoop.CreateDefault();
        int wakeFd = loop.Epoll.WakeDescriptor;
        loop.Dispose();
        using var pipe = new Pipe(wakeFd);
        await Assert.That(pipe.Writer).IsEqualTo(wakeFd);

        loop.Dispose();

        await Assert.That(FileOf(pipe.Writer)).IsNotNull(); // the pipe's end is still open
    }

    /// <summary>A pipe whose write end has the lowest free number from <paramref name="from"/>
    /// (its own, or a duplicate); closes every end on dispose.</summary>
    private sealed unsafe class Pipe : IDisposable
    {
        private readonly int _reader, _original;

        public Pipe(int from)
        {
            int* ends = stackalloc int[2];
            if (pipe2(ends, O_NONBLOCK | O_CLOEXEC) != 0)
                throw new InvalidOperationException("pipe2 failed");
            // The read end moves out of the way (it may have taken the number itself).
            _reader = fcntl(ends[0], F_DUPFD_CLOEXEC, 1000);
            Libc.close(ends[0]);
            if (ends[1] == from)
            {
                _original = -1;
                Writer = ends[1];
            }
            else
            {
                _original = ends[1];
                Writer = fcntl(_original, F_DUPFD_CLOEXEC, from);
            }
        }

        public int Writer { get; }

        /// <summary>Bytes waiting in the pipe (reads them).</summary>
        public int Available()
        {
            ulong value;
            nint n = Libc.read(_reader, &value, sizeof(ulong));
            return n < 0 ? 0 : (int)n;
        }

        public void Dispose()
        {
            Libc.close(Writer);
            Libc.close(_reader);
            if (_original >= 0)
                Libc.close(_original);
        }
    }

    [Test]
    public async Task Send_FailedCall_KeepsItsErrnoWhateverFailsNext()
    {
        (CallResult sent, CallResult other) = SendThenFailOtherwise();

        await Assert.That(sent.Failed).IsTrue();
        await Assert.That(sent.Error).IsEqualTo(Libc.EBADF);
        await Assert.That(other.Error).IsEqualTo(Libc.EAFNOSUPPORT);
    }

    private static unsafe (CallResult Sent, CallResult Other) SendThenFailOtherwise()
    {
        byte one = 1;
        CallResult sent = SocketCalls.Send(-1, &one, 1);
        CallResult other = Libc.Checked(Libc.socket(-1, Libc.SOCK_STREAM, 0)); // errno is now EAFNOSUPPORT
        return (sent, other);
    }

    private const int O_NONBLOCK = 0x800;
    private const int O_CLOEXEC = 0x80000;
    private const int F_DUPFD_CLOEXEC = 1030;

    [LibraryImport("libc")]
    private static unsafe partial int pipe2(int* fds, int flags);

    [LibraryImport("libc")]
    private static partial int fcntl(int fd, int cmd, int arg);
}
