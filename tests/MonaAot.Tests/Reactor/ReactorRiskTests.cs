using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Threading.Tasks;
using MonaAot.Diagnostics;
using MonaAot.Interop;
using MonaAot.Net;
using MonaAot.Reactor;
using MonaAot.Reactor.Epoll;
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
[UnsupportedOSPlatform("windows")]
public sealed unsafe partial class ReactorRiskTests
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
        int wakeFd = ((EpollBackend)loop.Backend).WakeDescriptor;
        loop.Dispose();
        int* ends = stackalloc int[2];
        await Assert.That(pipe2(ends, O_NONBLOCK | O_CLOEXEC)).IsEqualTo(0);
        // The write end of a pipe takes the wake descriptor's number, as any new file could.
        int writer = fcntl(ends[1], F_DUPFD_CLOEXEC, wakeFd);
        try
        {
            await Assert.That(writer).IsEqualTo(wakeFd);
            bool ran = false;
            await Task.Run(() =>
            {
                loop.Post(() => ran = true);
                loop.Backend.Wake();
                loop.Stop();
            });

            ulong value;
            nint read = Libc.read(ends[0], &value, sizeof(ulong));
            await Assert.That(read).IsEqualTo((nint)(-1)); // empty (EAGAIN): nothing was written
            await Assert.That(ran).IsFalse();
        }
        finally
        {
            Libc.close(writer);
            Libc.close(ends[0]);
            Libc.close(ends[1]);
        }
    }

    [Test]
    public async Task Dispose_Twice_ClosesOnce()
    {
        EventLoop loop = EventLoop.CreateDefault();
        int wakeFd = ((EpollBackend)loop.Backend).WakeDescriptor;
        loop.Dispose();
        int* ends = stackalloc int[2];
        await Assert.That(pipe2(ends, O_CLOEXEC)).IsEqualTo(0);
        int reused = fcntl(ends[1], F_DUPFD_CLOEXEC, wakeFd);
        try
        {
            await Assert.That(reused).IsEqualTo(wakeFd);
            loop.Dispose();
            await Assert.That(FileOf(reused)).IsNotNull(); // the pipe's end is still open
        }
        finally
        {
            Libc.close(reused);
            Libc.close(ends[0]);
            Libc.close(ends[1]);
        }
    }

    [Test]
    public async Task Send_FailedCall_KeepsItsErrnoWhateverFailsNext()
    {
        byte one = 1;
        CallResult sent = SocketCalls.Send(-1, &one, 1);
        CallResult other = Libc.Checked(Libc.socket(-1, Libc.SOCK_STREAM, 0)); // errno is now EAFNOSUPPORT

        await Assert.That(sent.Failed).IsTrue();
        await Assert.That(sent.Error).IsEqualTo(Libc.EBADF);
        await Assert.That(other.Error).IsEqualTo(Libc.EAFNOSUPPORT);
    }

    private const int O_NONBLOCK = 0x800;
    private const int O_CLOEXEC = 0x80000;
    private const int F_DUPFD_CLOEXEC = 1030;

    [LibraryImport("libc")]
    private static partial int pipe2(int* fds, int flags);

    [LibraryImport("libc")]
    private static partial int fcntl(int fd, int cmd, int arg);
}
