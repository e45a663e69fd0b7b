using System.Collections.Generic;
using MonaAot.Reactor;

namespace MonaAot.Net;

/// <summary>
/// [tcp] idleTimeout: ends connections that neither received nor sent a byte for that long
/// (a peer that connected and never spoke, or vanished without a FIN). One loop timer looks at
/// every connection four times per timeout, so a connection goes after between 1 and 1.25
/// timeouts of silence; the message path only bumps a counter. Loop thread only.
/// </summary>
internal sealed class IdleSweeper
{
    private const int TicksPerTimeout = 4;
    private readonly List<TcpConnection> _connections = new();
    private readonly int _timeoutSeconds;

    public IdleSweeper(EventLoop loop, int timeoutSeconds)
    {
        _timeoutSeconds = timeoutSeconds;
        long period = timeoutSeconds * 1000L / TicksPerTimeout;
        loop.Schedule(period, period, Sweep);
    }

    public void Add(TcpConnection connection)
    {
        connection.SweepIndex = _connections.Count;
        _connections.Add(connection);
    }

    /// <summary>Swap-remove: O(1), and the list never shrinks its storage (no allocation).</summary>
    public void Remove(TcpConnection connection)
    {
        int index = connection.SweepIndex;
        if (index < 0)
            return;
        int last = _connections.Count - 1;
        _connections[index] = _connections[last];
        _connections[index].SweepIndex = index;
        _connections.RemoveAt(last);
        connection.SweepIndex = -1;
    }

    private void Sweep()
    {
        // Backwards: a connection closed here removes only itself, swapping in the last one,
        // which has been seen already.
        for (int i = _connections.Count - 1; i >= 0; i--)
        {
            if (_connections[i].TickIdle() >= TicksPerTimeout)
                _connections[i].CloseIdle(_timeoutSeconds);
        }
    }
}
