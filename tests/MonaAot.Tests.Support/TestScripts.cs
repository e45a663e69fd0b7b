namespace MonaAot.Tests.Support;

/// <summary>Scripts more than one test level runs: in process (TcpApp) and in the published
/// binary (MonaProcess).</summary>
public static class TestScripts
{
    /// <summary>An echo server that logs each connection's end with its error.</summary>
    public const string EchoWithGoodbye = """
        server = mona:createTCPServer()
        function server:onConnection(client)
          function client:onReception(data) self:send(data) end
          function client:onDisconnection() NOTE("gone ", self.error) end
        end
        assert(server:start("127.0.0.1", 0))
        NOTE("port ", server.port)
        """;
}
