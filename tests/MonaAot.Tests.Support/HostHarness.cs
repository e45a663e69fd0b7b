using System;
using System.Threading;
using System.Threading.Tasks;
using MonaAot.Configuration;
using MonaAot.Diagnostics;
using MonaAot.Hosting;
using MonaAot.Lua;
using MonaAot.Lua.Runtime;
using MonaAot.Mail;
using MonaAot.Net;
using MonaAot.Reactor;

namespace MonaAot.Tests.Support;

/// <summary>
/// The application host in-process. Without <see cref="StartLoop"/>, the test drives it
/// directly: <see cref="Rescan"/> applies the www folder's state the way the scanner's report
/// would. With it, the loop runs on its own thread and the test reaches the host through
/// <see cref="OnLoop{T}"/>.
/// </summary>
public sealed class HostHarness : IDisposable
{
    private Thread? _loopThread;
    private readonly HandlerWatchdog? _watchdog;

    public HostHarness(TempWww www, string ini = "", LogLevel level = LogLevel.Trace, IResolver? resolver = null, HostsFile? hosts = null)
    {
        Www = www;
        Logger = new Logger(level);
        Logger.AddSink(Log);
        Loop = EventLoop.CreateDefault();
        IniFile iniFile = IniFile.Parse(ini, "test.ini");
        var settings = new ServerSettings(www.Www, level, iniFile, null, ServerSettings.TcpLimitsOf(iniFile)) { Smtp = ServerSettings.SmtpOf(iniFile), Lua = ServerSettings.LuaLimitsOf(iniFile), Tls = ServerSettings.TlsFilesOf(iniFile, www.Www) };
        Net = new NetContext(Loop, Logger, settings.TcpLimits);
        Vm = new LuaVm();
        _watchdog = Server.ApplyLuaLimits(Vm, settings.Lua);
        Runtime = new ScriptRuntime(Vm, Loop, Net, Logger, resolver, hosts);
        Mail = new MailQueue(settings.Smtp, Loop.Post);
        Host = new ApplicationHost(Runtime, Server.InstallGlobals(Runtime, settings, Mail), www.Www);
    }

    public TempWww Www { get; }
    public ListLogSink Log { get; } = new();
    public Logger Logger { get; }
    public EventLoop Loop { get; }
    public NetContext Net { get; }
    public LuaVm Vm { get; }
    public ScriptRuntime Runtime { get; }
    public MailQueue Mail { get; }
    public ApplicationHost Host { get; }

    /// <summary>Set by a test that makes MonaAot meet a bug-class errno on purpose; otherwise
    /// <see cref="Dispose"/> fails the test when one was logged (<see cref="NetError.BugMarker"/>).</summary>
    public bool BugsExpected { get; set; }

    public void Rescan() => Host.Apply(ApplicationScanner.Scan(Www.Www));

    /// <summary>Runs the loop on a thread of its own until dispose.</summary>
    public void StartLoop()
    {
        _loopThread = new Thread(Loop.Run) { IsBackground = true, Name = "harness loop" };
        _loopThread.Start();
    }

    /// <summary>Runs <paramref name="work"/> on the loop thread and returns its result.</summary>
    public async Task<T> OnLoop<T>(Func<T> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        Loop.Post(() =>
        {
            try
            {
                done.SetResult(work());
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        });
        return await done.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    public void Dispose()
    {
        if (_loopThread is not null)
        {
            var stopped = new ManualResetEventSlim();
            Loop.Post(() =>
            {
                Host.Stop();
                Mail.Abandon("mail not sent: the test harness stopped");
                stopped.Set();
            });
            stopped.Wait(TimeSpan.FromSeconds(30));
            Loop.Stop();
            _loopThread.Join();
        }
        else
        {
            Host.Stop();
            Mail.Abandon("mail not sent: the test harness stopped");
        }
        Mail.Dispose();
        _watchdog?.Dispose();
        Vm.Dispose();
        Net.Dispose();
        Loop.Dispose();
        if (!BugsExpected)
        {
            System.Collections.Generic.List<string> bugs = Log.Messages.FindAll(m => m.Contains(NetError.BugMarker, StringComparison.Ordinal));
            if (bugs.Count > 0)
                throw new InvalidOperationException($"MonaAot logged a bug:\n{string.Join("\n", bugs)}\nlog:\n{string.Join("\n", Log.Messages)}");
        }
    }
}
