using System;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading.Tasks;
using MonaAot.Diagnostics;
using MonaAot.Interop;
using MonaAot.Net;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;
using TUnit.Core.Enums;
using LogLevel = MonaAot.Diagnostics.LogLevel;

namespace MonaAot.Tests.Net;

/// <summary>Issue 14, point 4: every socket errno is classified once; the expected ones keep
/// the text scripts and docs know, a bug-class one is also logged at ERROR (and fails tests).</summary>
public class NetErrorTests
{
    [Test]
    [Arguments(Libc.ECONNRESET, "connection reset by peer")]
    [Arguments(Libc.EPIPE, "connection reset by peer")]
    [Arguments(Libc.ECONNABORTED, "connection aborted")]
    [Arguments(Libc.ETIMEDOUT, "connection timed out")]
    [Arguments(Libc.ECONNREFUSED, "connection refused")]
    [Arguments(Libc.EHOSTUNREACH, "host unreachable")]
    [Arguments(Libc.ENETUNREACH, "network unreachable")]
    [Arguments(Libc.ENETDOWN, "network is down")]
    [Arguments(Libc.EHOSTDOWN, "host is down")]
    [Arguments(Libc.ENETRESET, "network dropped connection on reset")]
    [Arguments(Libc.ENOTCONN, "transport endpoint is not connected")]
    [Arguments(Libc.EADDRINUSE, "address in use")]
    [Arguments(Libc.EADDRNOTAVAIL, "address not available")]
    [Arguments(Libc.EACCES, "permission denied")]
    [Arguments(Libc.EAFNOSUPPORT, "address family not supported")]
    [Arguments(Libc.EMSGSIZE, "message too long")]
    [Arguments(Libc.ENOBUFS, "no buffer space available")]
    [Arguments(Libc.ENOMEM, "cannot allocate memory")]
    [Arguments(Libc.EMFILE, "too many open files")]
    [Arguments(Libc.ENFILE, "too many open files in the system")]
    public async Task ExpectedErrno_KeepsItsText_AndLogsNothing(int errno, string text)
    {
        var log = new ListLogSink();
        var logger = new Logger(LogLevel.Trace);
        logger.AddSink(log);

        await Assert.That(NetError.Classify(errno)).IsEqualTo(NetErrorKind.Expected);
        await Assert.That(NetError.Describe(errno, "127.0.0.1:9")).IsEqualTo($"{text} (127.0.0.1:9)");
        await Assert.That(NetError.Describe(logger, "send", 12, errno, "127.0.0.1:9")).IsEqualTo($"{text} (127.0.0.1:9)");
        await Assert.That(log.Messages.Count).IsEqualTo(0);
    }

    [Test]
    [Arguments(Libc.EBADF, "EBADF")]
    [Arguments(Libc.EINVAL, "EINVAL")]
    [Arguments(Libc.ENOTSOCK, "ENOTSOCK")]
    [Arguments(Libc.EFAULT, "EFAULT")]
    [Arguments(Libc.EOPNOTSUPP, "EOPNOTSUPP")]
    [Arguments(Libc.EISCONN, "EISCONN")]
    [Arguments(Libc.EDESTADDRREQ, "EDESTADDRREQ")]
    [Arguments(Libc.EAGAIN, "EAGAIN")]
    [Arguments(10038, "error 10038")] // WSAENOTSOCK, which WindowsErrors leaves as it is
    public async Task BugErrno_IsLoggedOnceAtError_WithTheCallAndItsName(int errno, string name)
    {
        var log = new ListLogSink();
        var logger = new Logger(LogLevel.Trace);
        logger.AddSink(log);

        await Assert.That(NetError.Classify(errno)).IsEqualTo(NetErrorKind.Bug);
        string text = NetError.Describe(logger, "send", 12, errno, "127.0.0.1:9");

        await Assert.That(text).IsEqualTo(NetError.Describe(errno, "127.0.0.1:9")); // the script's text as before
        await Assert.That(log.Entries.Count).IsEqualTo(1);
        await Assert.That(log.Entries[0].Level).IsEqualTo(LogLevel.Error);
        await Assert.That(log.Entries[0].Message).IsEqualTo($"internal error: send on fd 12 failed with {name} (a bug in MonaAot)");
    }

    [Test]
    public async Task Harness_FailsTheTest_WhenABugWasLogged()
    {
        using var www = new TempWww();
        var harness = new HostHarness(www);
        NetError.Describe(harness.Logger, "send", 12, Libc.EBADF, "127.0.0.1:9");
        string? failure = null;
        try
        {
            harness.Dispose();
        }
        catch (InvalidOperationException e)
        {
            failure = e.Message;
        }
        await Assert.That(failure).IsNotNull();
        await Assert.That(failure!).Contains("internal error: send on fd 12 failed with EBADF (a bug in MonaAot)");
    }

    private sealed class Events : ITcpConnectionEvents
    {
        public TaskCompletionSource Connected { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource<string?> Closed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void OnConnected(TcpConnection connection) => Connected.TrySetResult();
        public int OnReceived(TcpConnection connection, ReadOnlySpan<byte> data) => 0;
        public void OnEnd(TcpConnection connection) { }
        public void OnFlushed(TcpConnection connection) { }
        public void OnClosed(TcpConnection connection, NetFailure error) => Closed.TrySetResult(error.Text);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int dup2(int oldfd, int newfd);

    /// <summary>The descriptor under a connected TcpConnection is swapped for /dev/null (dup2:
    /// atomic, so no other test's descriptor can take the number in between): the next send
    /// fails with ENOTSOCK, which ends the connection with a message and logs the bug.</summary>
    [Test]
    [RunOn(OS.Linux)]
    public async Task BugErrnoOnAConnection_EndsIt_AndLogsTheBug()
    {
        using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        using var www = new TempWww();
        using var harness = new HostHarness(www);
        harness.StartLoop();
        var events = new Events();

        TcpConnection connection = await harness.OnLoop(() =>
        {
            TcpConnection c = TcpConnection.ForConnect(harness.Net, events);
            c.Connect([NetAddress.From(IPAddress.Loopback, port)]);
            return c;
        });
        using Socket accepted = await listener.AcceptAsync();
        await events.Connected.Task.WaitAsync(TimeSpan.FromSeconds(20));

        using Microsoft.Win32.SafeHandles.SafeFileHandle devNull = System.IO.File.OpenHandle("/dev/null", System.IO.FileMode.Open, System.IO.FileAccess.ReadWrite);
        string? sent = await harness.OnLoop(() =>
        {
            nint fd = (nint)typeof(TcpConnection).GetField("_fd", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(connection)!;
            if (dup2((int)devNull.DangerousGetHandle(), (int)fd) < 0)
                throw new InvalidOperationException($"dup2 failed ({Marshal.GetLastPInvokeError()})");
            return connection.Send(Encoding.ASCII.GetBytes("x"));
        });

        string expected = $"{NetError.Describe(Libc.ENOTSOCK)} (127.0.0.1:{port})";
        await Assert.That(sent).IsEqualTo(expected);
        await Assert.That(await events.Closed.Task.WaitAsync(TimeSpan.FromSeconds(20))).IsEqualTo(expected);
        LogEntry bug = await harness.Log.WaitForEntry(e => e.Message.Contains(NetError.BugMarker), "about the bug");
        await Assert.That(bug.Level).IsEqualTo(LogLevel.Error);
        await Assert.That(bug.Message).StartsWith("internal error: send on fd ");
        await Assert.That(bug.Message).EndsWith(" failed with ENOTSOCK (a bug in MonaAot)");
        await Assert.That(harness.Log.Messages.FindAll(m => m.Contains(NetError.BugMarker)).Count).IsEqualTo(1);
        harness.BugsExpected = true; // this test made it happen
    }
}
