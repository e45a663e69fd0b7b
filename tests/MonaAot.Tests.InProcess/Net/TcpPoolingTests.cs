using System;
using System.Linq;
using System.Net.Sockets;
using System.Threading.Tasks;
using MonaAot.Collections;
using MonaAot.Modules;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Net;

/// <summary>
/// Accepted connections and clients are reused (docs/architecture.md, "Connection pooling"):
/// a client a script still holds is never handed to another connection, and what it says of
/// its own connection (its error, its fields) stays its own, while the clients the script
/// dropped come back for new accepts.
/// </summary>
public class TcpPoolingTests
{
    private const string App = """
        kept, gone, bad, resetSeen = {}, 0, 0, RESET_SEEN
        server = mona:createTCPServer()
        function server:onConnection(client)
          client.peer = client.peerAddress
          function client:onReception(data)
            self.number = tonumber(data)
            if self.number % 2 == 1 then kept[self.number] = self end
            self:send(data)
          end
          function client:onDisconnection()
            -- the reason is read here (and so made) only for some: the others' stays unread
            local expected = "connection reset by peer (" .. self.peer .. ")"
            if self.number % 4 < 2 and self.error ~= expected and (resetSeen or self.error ~= nil) then
              bad = bad + 1
              NOTE("wrong error ", tostring(self.error), " for ", self.peer)
            end
            self.ended = self.error or "none"
            gone = gone + 1
            NOTE("gone ", gone, ".")
          end
        end
        assert(server:start("127.0.0.1", 0))
        NOTE("port ", server.port)
        """;

    /// <summary>Connections from..from+count-1: each sends its number, reads the
    /// echo, and closes with a reset (an error to report).</summary>
    private static async Task Churn(int port, int from, int count)
    {
        for (int i = from; i < from + count; i++)
        {
            using Socket socket = await TcpApp.Connect(port);
            byte[] number = System.Text.Encoding.ASCII.GetBytes(i.ToString("D4"));
            await socket.SendAsync(number, SocketFlags.None);
            await TcpApp.ReadExactly(socket, number.Length);
            socket.LingerState = new LingerOption(true, 0); // a reset: an error to report
        }
    }

    [Test]
    public async Task KeptClients_KeepTheirOwnState_WhileDroppedOnesServeNewConnections()
    {
        // Under Wine a reset can arrive as an end of stream (WineNet): there a client may also
        // say "no error"; its state must still be its own.
        await using TcpApp app = await TcpApp.Start(App.Replace("RESET_SEEN", Wine.IsRunning ? "false" : "true"));
        int port = await app.Log.WaitForNumber("port ");

        await Churn(port, 0, 200);
        await app.Log.WaitFor("gone 200.");
        // The dropped clients' userdata go: their objects wait for the next accepts.
        await app.Run("collectgarbage() collectgarbage()");
        await Churn(port, 200, 200);
        await app.Log.WaitFor("gone 400.");

        await app.Run("""
            local count, wrong = 0, 0
            for number, client in pairs(kept) do
              count = count + 1
              local expected = "connection reset by peer (" .. client.peer .. ")"
              if client.number ~= number or client.connected or client.peerAddress ~= nil
                 or (client.error ~= expected and (resetSeen or client.error ~= nil))
                 or client.ended ~= (client.error or "none") then
                wrong = wrong + 1
                NOTE("wrong client ", number, ": number ", tostring(client.number), " connected ", tostring(client.connected),
                     " peerAddress ", tostring(client.peerAddress), " error ", tostring(client.error), " ended ", tostring(client.ended),
                     " expected ", expected)
              end
            end
            NOTE("kept ", count, " wrong ", wrong, " bad ", bad)
            """);
        string kept = await app.Log.WaitFor("kept ");
        await Assert.That(kept).IsEqualTo("kept 200 wrong 0 bad 0")
            .Because(string.Join("; ", app.Log.MessagesStartingWith("wrong ")));
        await Assert.That(await app.StopAndCountOpenSockets()).IsEqualTo(0);
    }

    /// <summary>A spare client keeps neither the application that last owned it (nor its
    /// server) alive while it waits in the pool, and the idle trim's drop
    /// (<see cref="MonaAot.Reactor.EventLoop.Spares"/>) empties the pools of clients and of
    /// connections, after which accepts make new ones.</summary>
    [Test]
    public async Task SpareClients_OwnNothing_AndTheSparesDropLeavesThePoolsEmpty()
    {
        await using TcpApp app = await TcpApp.Start(App);
        int port = await app.Log.WaitForNumber("port ");
        await Churn(port, 0, 60);
        await app.Log.WaitFor("gone 60.");
        await app.Run("kept = {} collectgarbage() collectgarbage()");

        (int clients, int owned, int connections, int dropped, int left) = await app.Harness.OnLoop(() =>
        {
            Pool<TcpClientObject> pool = app.Harness.Loop.Spares.Kept.OfType<Pool<TcpClientObject>>().Single();
            int clients = pool.Count, owned = pool.Spares.Count(c => c.Owner is not null);
            int connections = app.Harness.Net.SpareConnections.Count;
            int dropped = app.Harness.Loop.Spares.DropAll();
            return (clients, owned, connections, dropped, pool.Count + app.Harness.Net.SpareConnections.Count);
        });
        await Assert.That(clients).IsGreaterThan(0);
        await Assert.That(owned).IsEqualTo(0);
        await Assert.That(dropped).IsEqualTo(clients + connections);
        await Assert.That(left).IsEqualTo(0);

        await Churn(port, 60, 20);
        await app.Log.WaitFor("gone 80.");
        await Assert.That(await app.StopAndCountOpenSockets()).IsEqualTo(0);
    }

    // A client's userdata brought back by another object's finalizer after its own __gc ran
    // (its C# object pooled then): what it does must reach nothing, not the connection that
    // object serves next.
    private const string Resurrecting = """
        zombies = {}
        gone = 0
        server = mona:createTCPServer()
        function server:onConnection(client)
          function client:onReception(data) self:send(data) end
          function client:onDisconnection()
            gone = gone + 1
            NOTE("gone ", gone)
            setmetatable({c = self}, {__gc = function(t) zombies[#zombies + 1] = t.c end})
          end
        end
        assert(server:start("127.0.0.1", 0))
        NOTE("port ", server.port)
        """;

    [Test]
    public async Task ResurrectedUserdata_ReachesNothing_AfterItsObjectServesAnotherConnection()
    {
        await using TcpApp app = await TcpApp.Start(Resurrecting);
        int port = await app.Log.WaitForNumber("port ");
        for (int i = 0; i < 20; i++)
        {
            using Socket socket = await TcpApp.Connect(port);
            await socket.SendAsync(new byte[] { (byte)'a' }, SocketFlags.None);
            await TcpApp.ReadExactly(socket, 1);
        }
        // Until every one is reported (the last FIN can reach the loop after a chunk posted
        // now, on IOCP above all) and collected: the finalizers resurrect the userdata.
        await app.Log.WaitFor("gone 20");
        await app.Run("""
            for i = 1, 4 do collectgarbage() end
            NOTE("zombies ", #zombies)
            """);
        string zombies = await app.Log.WaitFor("zombies ");
        // New connections, held open: the pooled objects serve them.
        var held = new Socket[20];
        for (int i = 0; i < held.Length; i++)
        {
            held[i] = await TcpApp.Connect(port);
            await held[i].SendAsync(new byte[] { (byte)'b' }, SocketFlags.None);
            await TcpApp.ReadExactly(held[i], 1);
        }
        await app.Run("""
            local reached = 0
            for _, z in ipairs(zombies) do
              if pcall(z.send, z, "zombie") then reached = reached + 1 end
              local ok, connected = pcall(function() return z.connected end)
              if ok and connected then reached = reached + 1 end
            end
            NOTE("reached ", reached)
            """);
        await Assert.That(await app.Log.WaitFor("reached ")).IsEqualTo("reached 0").Because(zombies);
        foreach (Socket socket in held)
        {
            await socket.SendAsync(new byte[] { (byte)'c' }, SocketFlags.None);
            byte[] got = await TcpApp.ReadExactly(socket, 1);
            await Assert.That(got[0]).IsEqualTo((byte)'c');
            socket.Dispose();
        }
        await Assert.That(zombies).IsNotEqualTo("zombies 0");
    }
}
