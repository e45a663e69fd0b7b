using System;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Tasks;
using MonaAot.Diagnostics;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Net;

/// <summary>PROXY protocol in front of TLS on the same server: the header first, then the
/// handshake (HAProxy's order).</summary>
public class ProxyProtocolTlsTests
{
    [Before(Test)]
    public void NeedsATlsServerInProcess() => Skip.When(Wine.IsRunning, WineTls.NoServer);

    [Test]
    public async Task HeaderThenHandshake_TheScriptSeesTheHeadersClient()
    {
        TestCertificates certs = await TestCertificates.Make();
        try
        {
            await using TcpApp app = await TcpApp.Start($$"""
                server = mona:createTCPServer({certificate = [[{{certs.ServerCert}}]], key = [[{{certs.ServerKey}}]]})
                server.proxyProtocol = {"127.0.0.1", "::1"}
                function server:clientHandler(client)
                  NOTE("accepted ", client.peerAddress, " ", tostring(client.secure), " ", client.tlsVersion)
                  function client:onReception(data) self:send(data) end
                end
                assert(server:start("127.0.0.1", 0))
                NOTE("port ", server.port)
                """);
            int port = await app.Log.WaitForNumber("port ");
            Socket socket = await TcpApp.Connect(port);
            await socket.SendAsync(Encoding.ASCII.GetBytes("PROXY TCP4 203.0.113.9 127.0.0.1 4444 443\r\n"));
            await using var ssl = new System.Net.Security.SslStream(new NetworkStream(socket, ownsSocket: true), false, (_, _, _, _) => true);
            await ssl.AuthenticateAsClientAsync(new System.Net.Security.SslClientAuthenticationOptions { TargetHost = "localhost" })
                .WaitAsync(TimeSpan.FromSeconds(20));
            await ssl.WriteAsync("ping"u8.ToArray());
            var echo = new byte[4];
            await ssl.ReadExactlyAsync(echo).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
            await Assert.That(Encoding.ASCII.GetString(echo)).IsEqualTo("ping");
            await Assert.That(await app.Log.WaitFor("accepted ")).IsEqualTo("accepted 203.0.113.9:4444 true TLSv1.3");
        }
        finally
        {
            System.IO.Directory.Delete(certs.Folder, recursive: true);
        }
    }
}
