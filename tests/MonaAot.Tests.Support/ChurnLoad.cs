using System;
using System.IO;
using System.Net.Sockets;
using System.Text;
using System.Threading;

namespace MonaAot.Tests.Support;

/// <summary>
/// What the allocation tests of the published binary share: its app answers "stats?" on a
/// control connection with mona:stats().managedAllocatedBytes and a newline, and a churn of
/// connections runs on a few threads of the test process. Blocking sockets on plain threads:
/// the clients stand for the outside world, and no task scheduling comes between them and the
/// server.
/// </summary>
public static class ChurnLoad
{
    /// <summary>Sends "stats?" on <paramref name="control"/> and reads the number it gets back
    /// (bounded by the socket's ReceiveTimeout).</summary>
    public static long AskAllocated(Socket control)
    {
        control.Send("stats?"u8);
        var buffer = new byte[64];
        int length = 0;
        while (length == 0 || buffer[length - 1] != (byte)'\n')
        {
            int n = control.Receive(buffer, length, buffer.Length - length, SocketFlags.None);
            if (n == 0)
                throw new IOException("the server closed the control connection");
            length += n;
        }
        return long.Parse(Encoding.ASCII.GetString(buffer, 0, length - 1));
    }

    /// <summary>Runs <paramref name="connection"/> for the numbers 0 to <paramref name="count"/>
    /// - 1, <paramref name="parallel"/> at a time on threads of their own; the first failure stops
    /// the others and is thrown once all have ended.</summary>
    public static void Run(int parallel, int count, Action<int> connection, CancellationToken token)
    {
        int next = -1;
        var workers = new Thread[parallel];
        Exception? failure = null;
        for (int w = 0; w < parallel; w++)
        {
            workers[w] = new Thread(() =>
            {
                try
                {
                    int i;
                    while ((i = Interlocked.Increment(ref next)) < count && Volatile.Read(ref failure) is null)
                    {
                        token.ThrowIfCancellationRequested();
                        connection(i);
                    }
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref failure, e, null);
                }
            });
            workers[w].Start();
        }
        foreach (Thread worker in workers)
            worker.Join();
        if (failure is not null)
            throw new IOException($"churn failed: {failure.Message}", failure);
    }
}
