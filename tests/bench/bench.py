#!/usr/bin/env python3
"""MonaAot benchmark (run by ./build.sh bench, after out/monaaot is built): TCP and UDP echo,
timers, a relay, TLS echo, JSON and [server] workers. Standard library only.

Compares MonaAot running a Lua echo application with a minimal C echo server on raw epoll
(native/bench/echo_reference for TCP, native/bench/udp_echo_reference for UDP, which batches
with recvmmsg/sendmmsg), in the same run and on the same core, alternating the two so that
drift of the machine (thermal, noisy neighbours) hits both alike. Load comes from
native/bench/loadgen (TCP), native/bench/churngen (TCP connection churn) and native/bench/udpgen
(UDP), which verify every echoed byte.

Scenarios, BENCH_ROUNDS times each (default 2), every run on a freshly started server:
  pingpong      TCP: 100 connections, 64-byte messages, one in flight per connection
  stream        TCP: 10 connections, 16 KiB writes, 256 KiB in flight per connection
  conns         TCP: 1,000 connections, 64-byte messages, one in flight per connection
  churn         TCP: BENCH_CHURN_SLOTS (32) connections at a time, each connecting, echoing 64
                bytes and closing (FIN from the client), again and again (churngen): CPU per
                connection, connections/s, connect-to-echo p50/p99
  churn-rst     the same, each connection closed with a RST (SO_LINGER {1, 0})
  idle          TCP: BENCH_IDLE_CONNECTIONS (default 10000) open idle connections: the RSS
  udp-pingpong  UDP: 10 sockets, 64-byte datagrams, one in flight per socket
  udp-stream    UDP: 4 sockets, 512-byte datagrams, 24 in flight per socket
  timer         100,000 timers armed, each firing 5 times (see run_timer, apps/timer.lua): CPU
                per arm+fire, re-arm and stop, against native/bench/timer_reference
  relay         a Lua relay in front of a backend (apps/relay.lua; see run_relay_speed): its
                CPU per message and MB/s against MonaAot's direct echo, and its peak RSS before
                a slow backend with and without backpressure (pause/resume, docs/api.md)
  tls-stream    TLS: 10 connections, 16 KiB writes, 256 KiB in flight per connection, against
                native/bench/tls_echo_reference (OpenSSL through memory BIOs, on the same epoll
                loop as echo_reference); load from native/bench/tlsgen. Also relates each
                server's TLS stream CPU per message to its plain stream's (the tcp group's
                stream, run inside the tls group when tcp is not selected)
  tls-churn     TLS: 10 connections at a time, each connecting, completing a full handshake
                (tlsgen never resumes a session), echoing 64 bytes and closing: CPU per handshake
  json          encode and decode MB/s of one document of 1,000 mixed records (apps/json.lua):
                mona:toJSON and mona:fromJSON inside MonaAot against Debian's lua-cjson loaded by
                the same binary as a Lua C module (the same Lua, allocator, document, loop, clock)
  workers       [server] workers (run_workers_cpu, run_workers_spread): the 64 B ping-pong x 100
                against MonaAot with workers = 1 and workers = BENCH_WORKERS (2), alternating
                within each round: CPU per message (the sum of the workers' CPU over the
                messages echoed) with 2 over that with 1, the supervisor's own CPU apart; then,
                with 2 workers, 1,000 connections held open at once (apps/spread.lua greets each
                with its worker): how many each worker accepted. By default the supervisor, its
                workers and the load generator share BENCH_CORE, so no throughput scaling is
                claimed; the knobs below measure it on a larger machine (docs/performance.md,
                "Workers")
Memory, for every TCP and UDP scenario above and both servers (a table after the figures):
RSS 1 s after start (idle), VmHWM at the end of the load, RSS BENCH_AFTER_SECONDS after the
load (the server left idle), and MonaAot's mona:stats() luaMemoryBytes and managedHeapBytes at
the end of the load and then (the last of the lines apps/echo.lua and apps/udp-echo.lua log
once a second, so up to 1 s old; "-" for the reference). The memory targets are MonaAot's:
VmHWM <= 16 MiB in churn, churn-rst and udp-stream, RSS after <= 8 MiB in every scenario,
idle RSS <= 5 MiB (the tcp group's runs). Beside the idle RSS, the tcp group's figures also give
the idle PSS and anonymous memory (/proc/PID/smaps_rollup): RSS counts in full the pages of
libc, libm and the loader that every process on the machine shares; PSS divides each page by
the processes that map it; anonymous memory is what the process wrote (heaps, stacks, the
copies of data pages it changed), the part no file backs. Not Private_Dirty: it also counts the
page cache of an executable just copied and not yet written back, which the bench's is.
Each traffic run lasts BENCH_SECONDS (default 10) plus 1 s idle before and, TCP and UDP,
BENCH_AFTER_SECONDS after. Figures are medians over the rounds; the
CPU targets are checked against the median of the per-round ratios (each round runs both
servers back to back, so the ratio within a round is free of drift between rounds); UDP
loss (datagrams not echoed within 500 ms) is the total over the rounds, and so is the count of
those echoed after all (late: the machine stalled, the server did not drop them).

Environment:
  BENCH_SECONDS=10  BENCH_ROUNDS=2  BENCH_IDLE_CONNECTIONS=10000  BENCH_CORE=0
  BENCH_LOAD_CORE=0  the core of the TCP, UDP and TLS scenarios' load generators; default
                     BENCH_CORE (one shared core: the figures of docs/performance.md). On a
                     core of its own the scheduler's pairing of the two processes drops out
                     of the ratio (docs/performance.md, "Where the extra CPU goes")
  BENCH_CHURN_SLOTS=32  the churn scenarios' connections at a time (1-4096)
  BENCH_AFTER_SECONDS=5  how long each traffic run's server stays up, idle, after the load
                     before its RSS and heaps are read (0-60; 0: not read, and no wait)
  BENCH_SCENARIOS="tcp udp timer relay tls json workers"  the groups to run, any of the seven
                     (default all)
  BENCH_WORKERS=2    the workers group's count of workers, 2-256 or auto (one per CPU of
                     BENCH_WORKERS_CPUS; the ini then says auto)
  BENCH_WORKERS_CPUS=1  the CPUs (a taskset list, e.g. 0,1 or 0-3) of the workers group's servers;
                     default the CPU after BENCH_CORE (BENCH_CORE itself on a 1-CPU machine)
  BENCH_WORKERS_LOAD_CPUS=0  the CPUs of its load generators; default BENCH_CORE
  BENCH_WORKERS_GENERATORS=1  how many load generators its ping-pong runs at once, 100 connections
                     each (one loadgen is one thread: scaling needs several)
  BENCH_WORKERS_CONNECTIONS=1000  the connections of the workers group's spread run
  BENCH_TIMERS=100000  BENCH_TIMER_FIRES=5  BENCH_TIMER_REARMS=1000000  (the timer scenario)
  BENCH_JSON_SECONDS=2  CPU seconds of each json loop (encode, decode), each side
  BENCH_RELAY_HIGH=1048576  BENCH_RELAY_SLOW_RATE=8000000  (the relay scenario: the high mark
                     of the backpressure, bytes, and the slow backend's read rate, bytes/s)
  BENCH_MONAAOT_CMD  replaces the MonaAot command of the TCP echo scenarios, not the workers group's
                     (word-split; the server
                     must print a line containing "listening on <port>"), e.g. to test this
                     driver against the reference alone:
                     BENCH_MONAAOT_CMD="native/build/bench/echo_reference 0"
  BENCH_MONAAOT_UDP_CMD  the same for the UDP scenarios, e.g.
                     BENCH_MONAAOT_UDP_CMD="native/build/bench/udp_echo_reference 0"
  BENCH_MONAAOT_TLS_CMD  the same for the TLS scenarios; {cert} and {key} stand for the paths of
                     the certificate and key the driver made, e.g.
                     BENCH_MONAAOT_TLS_CMD="native/build/bench/tls_echo_reference 0 {cert} {key}"
  BENCH_MONAAOT=out/monaaot  the binary measured (e.g. a build of another branch)
  BENCH_STRICT=1     exit 1 when a target is missed (default: targets are reported only)
Exit code: 0 when every run completed and every echoed byte was right; 1 otherwise.
"""

from __future__ import annotations

import collections
import dataclasses
import glob
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
BIN = ROOT / "native" / "build" / "bench"
APPS = ROOT / "tests" / "bench" / "apps"  # the Lua applications MonaAot runs, one per scenario
CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVERS = ("monaaot", "reference")
GROUPS = ("tcp", "udp", "timer", "relay", "tls", "json", "workers")
WORKER_RUNS = ("many", "one")  # the workers group's two servers (BENCH_WORKERS, 1), as its ratio takes them


class BenchError(Exception):
    """A run that cannot go on: printed as "bench: <message>", exit code 1."""


def say(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


# ---- settings ----------------------------------------------------------------------------------


@dataclasses.dataclass
class Settings:
    monaaot: Path
    seconds: int
    rounds: int
    idle_connections: int
    churn_slots: int  # BENCH_CHURN_SLOTS: the churn scenarios' connections at a time
    after_seconds: int  # BENCH_AFTER_SECONDS: how long after the load the RSS is read (0: not)
    core: int
    load_core: int  # BENCH_LOAD_CORE: the traffic scenarios' load generators
    groups: list[str]
    timers: int
    timer_fires: int
    timer_rearms: int
    relay_high: int
    relay_slow_rate: int
    json_seconds: int
    tcp_override: str  # BENCH_MONAAOT_CMD; empty: the real MonaAot
    udp_override: str  # BENCH_MONAAOT_UDP_CMD
    tls_override: str  # BENCH_MONAAOT_TLS_CMD
    strict: bool
    workers: int  # BENCH_WORKERS, resolved
    workers_value: str  # what the ini says: the count, or auto
    workers_cpus: str  # BENCH_WORKERS_CPUS: a taskset CPU list
    workers_load_cpus: str  # BENCH_WORKERS_LOAD_CPUS
    workers_generators: int  # BENCH_WORKERS_GENERATORS
    workers_connections: int  # BENCH_WORKERS_CONNECTIONS

    def selected(self, group: str) -> bool:
        return group in self.groups

    def override_of(self, protocol: str) -> str:
        return {"udp": self.udp_override, "tls": self.tls_override}.get(protocol, self.tcp_override)

    def plain_stream_in_tls(self) -> bool:
        """True when the tls group runs the plain stream itself (the tcp group does not run)."""
        return self.selected("tls") and not self.selected("tcp")

    def needs_monaaot(self) -> bool:
        """True when a selected scenario runs the real MonaAot (timer, relay, json and workers always do)."""
        if self.selected("timer") or self.selected("relay") or self.selected("json") or self.selected("workers"):
            return True
        if self.plain_stream_in_tls() and not self.tcp_override:
            return True
        return any(self.selected(p) and not self.override_of(p) for p in ("tcp", "udp", "tls"))


def _count(env: str, default: int, low: int, high: int | None, message: str) -> int:
    text = os.environ.get(env, str(default))
    if not re.fullmatch(r"[0-9]+", text) or int(text) < low or (high is not None and int(text) > high):
        raise BenchError(f"{env} {message} (got '{text}')")
    return int(text)


def _cpu_list(env: str, default: str) -> str:
    """A taskset CPU list (0, 0,1, 0-3, ...) from the environment."""
    text = os.environ.get(env, default)
    if not re.fullmatch(r"[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*", text):
        raise BenchError(f"{env} must be a CPU list such as 0 or 0,1 or 0-3 (got '{text}')")
    return text


def _cpus_of(cpu_list: str) -> set[int]:
    """The CPUs a taskset list names."""
    found: set[int] = set()
    for part in cpu_list.split(","):
        low, _, high = part.partition("-")
        found.update(range(int(low), int(high or low) + 1))
    return found


def read_settings() -> Settings:
    scenarios = os.environ.get("BENCH_SCENARIOS", " ".join(GROUPS))
    names = "|".join(GROUPS)
    if not re.fullmatch(rf" *({names})( +({names}))* *", scenarios):
        raise BenchError(f"BENCH_SCENARIOS must list some of {', '.join(GROUPS)} (got '{scenarios}')")
    core = _count("BENCH_CORE", 0, 0, None, "must be a CPU number")
    # The workers' servers on a core of their own, the load generator on BENCH_CORE: on one
    # shared core the generator preempts the workers, and how often depends on how many there
    # are (docs/performance.md, "Workers"), which is not the cost of a message.
    spare = core + 1 if core + 1 < (os.cpu_count() or 1) else core
    workers_cpus = _cpu_list("BENCH_WORKERS_CPUS", str(spare))
    workers_load_cpus = _cpu_list("BENCH_WORKERS_LOAD_CPUS", str(core))
    workers_value = os.environ.get("BENCH_WORKERS", "2")
    if workers_value == "auto":
        workers = len(_cpus_of(workers_cpus))
        if workers < 2:
            raise BenchError(f"BENCH_WORKERS=auto needs at least 2 CPUs in BENCH_WORKERS_CPUS (got '{workers_cpus}')")
    else:
        workers = _count("BENCH_WORKERS", 2, 2, 256, "must be 2-256 or auto")
    settings = Settings(
        monaaot=Path(os.environ.get("BENCH_MONAAOT", str(ROOT / "out" / "monaaot"))),
        seconds=_count("BENCH_SECONDS", 10, 1, 600, "must be 1-600"),
        rounds=_count("BENCH_ROUNDS", 2, 1, 20, "must be 1-20"),
        idle_connections=_count("BENCH_IDLE_CONNECTIONS", 10000, 0, 20000, "must be 0-20000"),
        churn_slots=_count("BENCH_CHURN_SLOTS", 32, 1, 4096, "must be 1-4096"),
        after_seconds=_count("BENCH_AFTER_SECONDS", 5, 0, 60, "must be 0-60"),
        core=core,
        load_core=_count("BENCH_LOAD_CORE", core, 0, None, "must be a CPU number"),
        groups=[g for g in GROUPS if g in scenarios.split()],
        timers=_count("BENCH_TIMERS", 100000, 1, 1000000, "must be 1-1000000"),
        timer_fires=_count("BENCH_TIMER_FIRES", 5, 1, 100, "must be 1-100"),
        timer_rearms=_count("BENCH_TIMER_REARMS", 1000000, 1, 100000000, "must be 1-100000000"),
        relay_high=_count("BENCH_RELAY_HIGH", 1048576, 1, None, "must be a byte count of at least 1"),
        relay_slow_rate=_count("BENCH_RELAY_SLOW_RATE", 8000000, 1024, None, "must be at least 1024 bytes/s"),
        json_seconds=_count("BENCH_JSON_SECONDS", 2, 1, 600, "must be 1-600"),
        tcp_override=os.environ.get("BENCH_MONAAOT_CMD", ""),
        udp_override=os.environ.get("BENCH_MONAAOT_UDP_CMD", ""),
        tls_override=os.environ.get("BENCH_MONAAOT_TLS_CMD", ""),
        strict=os.environ.get("BENCH_STRICT", "0") == "1",
        workers=workers,
        workers_value=workers_value,
        workers_cpus=workers_cpus,
        workers_load_cpus=workers_load_cpus,
        workers_generators=_count("BENCH_WORKERS_GENERATORS", 1, 1, 64, "must be 1-64"),
        workers_connections=_count("BENCH_WORKERS_CONNECTIONS", 1000, 2, 20000, "must be 2-20000"),
    )
    if shutil.which("taskset") is None:
        raise BenchError("taskset (util-linux) is required")
    if settings.selected("tls") and shutil.which("openssl") is None:
        raise BenchError("the tls scenarios need the openssl command (it makes their certificate)")
    if settings.selected("json") and not glob.glob("/usr/lib/*/lua/5.4/cjson.so"):
        raise BenchError("the json scenario needs Debian's lua-cjson (./build.sh installs it)")
    if settings.needs_monaaot() and not os.access(settings.monaaot, os.X_OK):
        raise BenchError(f"{settings.monaaot} is missing: build it first (./build.sh)")
    return settings


# ---- scenarios ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TrafficScenario:
    """An echo scenario: a load generator run against each server."""

    name: str
    protocol: str  # tcp, udp or tls
    generator: str  # loadgen, udpgen or tlsgen, in native/build/bench
    args: tuple[str, ...]
    title: str  # the table's heading of its rows
    target: str  # the CPU target, as the table shows it
    limit: float  # that target's bound on the median ratio
    verdict: str  # what the verdict line calls it
    unit: str  # message, datagram or handshake
    timed: str = ""  # what p50/p99 time ("round trip"); empty: nothing (streaming)


# udp-stream keeps 24 datagrams in flight per socket, 96 in all: what Linux's default receive
# buffer (rmem_default, 212992 bytes) holds of 512-byte datagrams is about 166 (1283 bytes of
# accounting each), less the quarter UDP may leave unreleased while the reader drains; more in
# flight makes the kernel drop datagrams whenever the server is descheduled, which measures
# the scheduler. With 96, a loss is the server's doing.
#
# churn and churn-rst: BENCH_CHURN_SLOTS ({slots} below) connections at a time, each connecting,
# echoing 64 bytes and closing (churngen); churngen's messages are its connections, so the
# per-message figures are per connection (accept, one echo, close).
TCP_SCENARIOS = (
    TrafficScenario("pingpong", "tcp", "loadgen", ("--connections", "100", "--size", "64", "--mode", "pingpong"),
                    "ping-pong 64 B x 100", "ratio <= 1.1", 1.1, "ping-pong CPU/message ratio", "message",
                    "round trip"),
    TrafficScenario("stream", "tcp", "loadgen", ("--connections", "10", "--size", "16384", "--mode", "stream"),
                    "stream 16 KiB x 10", "ratio <= 1.15", 1.15, "streaming CPU/message ratio", "message"),
    TrafficScenario("conns", "tcp", "loadgen", ("--connections", "1000", "--size", "64", "--mode", "pingpong"),
                    "ping-pong 64 B x 1,000 connections", "ratio <= 1.2", 1.2, "1,000 connections CPU/message ratio",
                    "message", "round trip"),
    TrafficScenario("churn", "tcp", "churngen", ("--slots", "{slots}", "--size", "64"),
                    "churn: connect, 64 B echo, close (FIN), {slots} at a time", "ratio <= 1.15", 1.15,
                    "churn CPU/connection ratio", "connection", "connect to echo"),
    TrafficScenario("churn-rst", "tcp", "churngen", ("--slots", "{slots}", "--size", "64", "--rst"),
                    "churn: connect, 64 B echo, close (RST), {slots} at a time", "ratio <= 1.15", 1.15,
                    "churn (RST) CPU/connection ratio", "connection", "connect to echo"),
)
UDP_SCENARIOS = (
    TrafficScenario("udp-pingpong", "udp", "udpgen", ("--connections", "10", "--size", "64", "--mode", "pingpong"),
                    "UDP ping-pong 64 B x 10 sockets", "ratio <= 1.3", 1.3, "UDP ping-pong CPU/datagram ratio",
                    "datagram", "round trip"),
    TrafficScenario("udp-stream", "udp", "udpgen",
                    ("--connections", "4", "--size", "512", "--mode", "stream", "--window", "24"),
                    "UDP stream 512 B x 4 sockets, 24 in flight", "ratio <= 1.2", 1.2,
                    "UDP streaming CPU/datagram ratio", "datagram"),
)
# The memory targets (docs/performance.md): VmHWM during these scenarios, RSS BENCH_AFTER_SECONDS
# after every traffic scenario's load, and the idle RSS after start, all MonaAot's.
PEAK_TARGET_SCENARIOS = ("churn", "churn-rst", "udp-stream")
PEAK_TARGET_MIB = 16
AFTER_TARGET_MIB = 8
IDLE_TARGET_MIB = 5
# The line apps/echo.lua and apps/udp-echo.lua log once a second: MonaAot's two heaps.
STATS_LINE = r"bench-stats seq=([0-9]+) lua=([0-9]+) managed=([0-9]+)"
# TLS: the certificate both servers use is ECDSA P-256 (made by Bench.make_certificate), so a
# handshake costs the server an X25519 exchange and an ECDSA signature; with RSA 2048 its
# private-key operation alone (about 1 ms) would dwarf the rest and hide the server's own cost.
TLS_SCENARIOS = (
    TrafficScenario("tls-stream", "tls", "tlsgen", ("--connections", "10", "--size", "16384", "--mode", "stream"),
                    "TLS stream 16 KiB x 10", "ratio <= 1.3", 1.3, "TLS streaming CPU/message ratio", "message"),
    TrafficScenario("tls-churn", "tls", "tlsgen", ("--connections", "10", "--size", "64", "--mode", "churn"),
                    "TLS churn: full handshake + 64 B echo, 10 at a time", "ratio <= 1.3", 1.3,
                    "TLS CPU/handshake ratio", "handshake", "connect to echo"),
)
RELAY_STREAM_ARGS = ("--connections", "10", "--size", "16384", "--mode", "stream")
# The relay's memory run: 4 connections with 32 MiB in flight each, far more than a slow
# backend takes in a run, so that only backpressure bounds what the relay holds.
RELAY_MEMORY_ARGS = ("--connections", "4", "--size", "16384", "--mode", "stream", "--window", str(32 << 20))


# ---- results -----------------------------------------------------------------------------------


class Results:
    """Every measurement: (scenario, server, figure) -> the values, in round order."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str, str], list[float]] = collections.defaultdict(list)

    def record(self, scenario: str, server: str, figure: str, value: float, decimals: int | None = None) -> None:
        # Rounded as recorded, so the medians and ratios are those of the figures the log shows.
        self.values[scenario, server, figure].append(value if decimals is None else round(value, decimals))

    def total(self, scenario: str, server: str, figure: str) -> float | None:
        found = self.values.get((scenario, server, figure))
        return sum(found) if found else None

    def median(self, scenario: str, server: str, figure: str) -> float | None:
        return median(self.values.get((scenario, server, figure), []))

    def round_ratios(self, scenario: str, figure: str, mine_server: str = "monaaot",
                     ref_server: str = "reference") -> list[float]:
        """MonaAot/reference of a figure (or mine_server/ref_server), round by round: the k-th
        run of each server belongs to round k, and the two runs of a round are back to back, so
        drift of the machine between rounds cancels out of each ratio."""
        mine = self.values.get((scenario, mine_server, figure), [])
        ref = self.values.get((scenario, ref_server, figure), [])
        return [round(a / b, 3) for a, b in zip(mine, ref) if b > 0]

    def across(self, server: str, figure: str, scenario: str, base: str) -> list[float]:
        """scenario/base of one server's figure, round by round (e.g. TLS stream over plain)."""
        mine = self.values.get((scenario, server, figure), [])
        ref = self.values.get((base, server, figure), [])
        return [round(a / b, 3) for a, b in zip(mine, ref) if b > 0]

    def ratio_of(self, scenario: str, figure: str, mine_server: str = "monaaot",
                 ref_server: str = "reference") -> float | None:
        """The median of the per-round ratios: what the targets are checked against."""
        found = median(self.round_ratios(scenario, figure, mine_server, ref_server))
        return None if found is None else round(found, 3)


def median(values: list[float]) -> float | None:
    """The middle value; the mean of the middle two for an even count; None for none."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


@dataclasses.dataclass
class LoadResult:
    """The load generator's summary line: messages=N bytes=N seconds=S p50_us=... [lost= late=]."""

    line: str
    fields: dict[str, str]

    @classmethod
    def parse(cls, line: str) -> "LoadResult":
        return cls(line, dict(pair.split("=", 1) for pair in line.split() if "=" in pair))

    def number(self, key: str) -> float:
        try:
            return float(self.fields.get(key, "0"))
        except ValueError:
            return 0.0


# ---- processes ---------------------------------------------------------------------------------


class Child:
    """A process this driver started, pinned to the benchmark core, its output read by a thread
    (so it never blocks on a full pipe) and kept, its last lines, for waiting and for errors."""

    live: list["Child"] = []  # every child started and not stopped yet

    def __init__(self, name: str, argv: list[str], core: int | str) -> None:
        self.name = name
        self.lines: collections.deque[str] = collections.deque(maxlen=2000)
        self.ended = False
        self.changed = threading.Condition()
        self.process = subprocess.Popen(["taskset", "-c", str(core), *argv], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        Child.live.append(self)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            with self.changed:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self.changed.notify_all()
        with self.changed:
            self.ended = True
            self.changed.notify_all()

    def wait_for_line(self, pattern: str, seconds: float) -> re.Match[str] | None:
        """The first match of pattern in the output, waiting up to seconds while it runs."""
        found = self.wait_for_lines(pattern, 1, seconds)
        return found[0] if found else None

    def wait_for_lines(self, pattern: str, count: int, seconds: float) -> list[re.Match[str]]:
        """The first count matches of pattern in the output (one per line; e.g. one "listening
        on" line per worker), waiting up to seconds while it runs; fewer when it timed out."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + seconds
        with self.changed:
            while True:
                found = [m for m in (regex.search(line) for line in self.lines) if m][:count]
                left = deadline - time.monotonic()
                if len(found) == count or self.ended or left <= 0:
                    return found
                self.changed.wait(left)

    def last_match(self, pattern: str) -> re.Match[str] | None:
        """The last line of the output so far that matches pattern (no waiting)."""
        regex = re.compile(pattern)
        with self.changed:
            for line in reversed(self.lines):
                found = regex.search(line)
                if found:
                    return found
        return None

    def tail(self, count: int = 20) -> str:
        with self.changed:
            return "\n".join(list(self.lines)[-count:])

    def stop(self) -> None:
        """SIGTERM, up to 5 s to exit, then SIGKILL; always reaped."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                say(f"PID {self.pid} ignored SIGTERM for 5 s, killing it")
                self.process.kill()
                self.process.wait()
        self.reader.join(5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        if self in Child.live:
            Child.live.remove(self)

    @classmethod
    def stop_all(cls) -> None:
        for child in reversed(list(cls.live)):
            child.stop()


def run_generator(core: int | str, argv: list[str], seconds: int) -> tuple[int, str]:
    """Runs a load generator in the foreground (its errors go to stderr); its exit code and
    summary line. Bounded: a generator still running well after its duration is killed."""
    try:
        done = subprocess.run(["taskset", "-c", str(core), *argv], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, text=True, timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{' '.join(argv)} did not end within {seconds + 60} s") from None
    return done.returncode, done.stdout.strip()


def proc_file(pid: int, name: str) -> str:
    try:
        return Path(f"/proc/{pid}/{name}").read_text()
    except OSError as error:
        raise BenchError(f"cannot read /proc/{pid}/{name} (the process ended?): {error.strerror}") from None


def proc_stat(pid: int) -> list[str]:
    """/proc/PID/stat after the command name (which may hold spaces): field 3 is [0]."""
    text = proc_file(pid, "stat")
    return text[text.rindex(")") + 2:].split()


def cpu_ticks(pid: int) -> int:
    """utime + stime of PID, in clock ticks (fields 14 and 15 of /proc/PID/stat)."""
    fields = proc_stat(pid)
    return int(fields[11]) + int(fields[12])


def children_of(pid: int) -> list[int]:
    """The direct children of PID (every thread's children: the .NET runtime may start a
    process from any of its threads)."""
    found: list[int] = []
    for path in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            found += [int(word) for word in Path(path).read_text().split()]
        except OSError:
            pass  # a thread that ended meanwhile
    return sorted(found)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now. With [server] workers every worker binds the same port
    (SO_REUSEPORT), so port 0 cannot be used: the kernel would give each its own. Another
    process could take it before the server binds; the launch then fails with a clear message."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def proc_field(pid: int, file: str, key: str) -> int:
    """The number of a "Key: value" line of /proc/PID/FILE (status, smaps_rollup)."""
    for line in proc_file(pid, file).splitlines():
        name, _, rest = line.partition(":")
        if name == key:
            return int(rest.split()[0])
    raise BenchError(f"/proc/{pid}/{file} has no {key}")


def status_value(pid: int, key: str) -> int:
    """A /proc/PID/status field: kB for VmRSS and VmHWM, a count for the others."""
    return proc_field(pid, "status", key)


def rollup_value(pid: int, key: str) -> int:
    """A /proc/PID/smaps_rollup field, in kB (Pss, Anonymous, ...)."""
    return proc_field(pid, "smaps_rollup", key)


def preemptions(pid: int) -> int:
    """Times PID was preempted (taken off the CPU while it could still run)."""
    return status_value(pid, "nonvoluntary_ctxt_switches")


def sleeps(pid: int) -> int:
    """Times PID's main thread (the loop's) gave up the CPU itself: for an echo server, the
    epoll_wait calls that found nothing ready, so each is one wake-up and one batch."""
    return status_value(pid, "voluntary_ctxt_switches")


def descriptor_count(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError as error:
        raise BenchError(f"cannot list /proc/{pid}/fd (the process ended?): {error.strerror}") from None


# ---- the benchmark -----------------------------------------------------------------------------


class Bench:
    def __init__(self, settings: Settings, work: Path) -> None:
        self.s = settings
        self.work = work
        self.results = Results()

    # -- set-up --

    def raise_descriptor_limit(self) -> None:
        """Idle connections need a descriptor each, in the server and in the load generator;
        the children inherit the limit."""
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY:
            hard = 1048576
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if self.s.selected("tcp") and soft < 1000 + 256:  # the conns scenario
            raise BenchError(f"descriptor limit {soft} is too low for the conns scenario's 1,000 connections")
        if 0 < self.s.idle_connections and soft < self.s.idle_connections + 256:
            say(f"descriptor limit {soft} is too low for {self.s.idle_connections} idle connections: "
                "idle scenario skipped")
            self.s.idle_connections = 0

    def write_applications(self) -> None:
        """The MonaAot side: an application per scenario, each in its own www folder, and inis
        that ask for port 0 (the kernel picks one and the application logs it, so no port can be
        taken between choosing and binding; the UDP application binds port 0 itself)."""
        applications = {"www": "echo.lua", "www-udp": "udp-echo.lua"}
        if self.s.selected("timer"):
            applications["www-timer"] = "timer.lua"
        if self.s.selected("relay"):
            applications["www-relay"] = "relay.lua"
        if self.s.selected("json"):
            applications["www-json"] = "json.lua"
        if self.s.selected("workers"):
            applications["www-spread"] = "spread.lua"
        for folder, source in applications.items():
            (self.work / folder).mkdir()
            shutil.copyfile(APPS / source, self.work / folder / "main.lua")
        (self.work / "bench.ini").write_text("[bench]\nport=0\n")
        # handlerTimeout 0: arming 100,000 timers, or a million re-arms, is one long script call.
        (self.work / "timer.ini").write_text(
            f"[bench]\ntimers={self.s.timers}\nfires={self.s.timer_fires}\nrearms={self.s.timer_rearms}\n"
            "[lua]\nhandlerTimeout=0\n")
        # The json loops run in the main chunk, for seconds.
        for name, codec in (("json.ini", "monaaot"), ("json-cjson.ini", "cjson")):
            (self.work / name).write_text(f"[bench]\nseconds={self.s.json_seconds}\ncodec={codec}\n[lua]\nhandlerTimeout=0\n")
        # A private copy of the binary: a rebuild while the benchmark runs would otherwise fail to
        # overwrite a running executable (ETXTBSY), or swap the binary between rounds.
        if self.s.needs_monaaot():
            shutil.copy2(self.s.monaaot, self.work / "monaaot")
        if self.s.selected("tls"):
            self.make_certificate()
            (self.work / "www-tls").mkdir()
            shutil.copyfile(APPS / "tls-echo.lua", self.work / "www-tls" / "main.lua")
            (self.work / "tls.ini").write_text(
                f"[bench]\nport=0\ncertificate={self.certificate}\nkey={self.key}\n")

    @property
    def certificate(self) -> Path:
        return self.work / "tls-certificate.pem"

    @property
    def key(self) -> Path:
        return self.work / "tls-key.pem"

    def make_certificate(self) -> None:
        """A self-signed ECDSA P-256 certificate for localhost (see TLS_SCENARIOS), used by both
        servers; tlsgen does not verify it."""
        done = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                               "-nodes", "-keyout", str(self.key), "-out", str(self.certificate), "-days", "2",
                               "-subj", "/CN=localhost"], stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if done.returncode != 0:
            raise BenchError(f"openssl could not make the certificate: {done.stderr.strip()}")

    def monaaot_command(self, ini: str, www: str) -> list[str]:
        return [str(self.work / "monaaot"), "--log=5", f"--config={self.work / ini}", str(self.work / www)]

    def server_command(self, server: str, protocol: str) -> list[str]:
        """The command line of an echo server (monaaot or reference) for a protocol."""
        if server == "reference" and protocol == "tls":
            return [str(BIN / "tls_echo_reference"), "0", str(self.certificate), str(self.key)]
        if server == "reference":
            return [str(BIN / ("udp_echo_reference" if protocol == "udp" else "echo_reference")), "0"]
        override = self.s.override_of(protocol)
        if override:
            return [word.replace("{cert}", str(self.certificate)).replace("{key}", str(self.key))
                    for word in override.split()]
        if protocol == "tls":
            return self.monaaot_command("tls.ini", "www-tls")
        return self.monaaot_command("bench.ini", "www-udp" if protocol == "udp" else "www")

    def launch(self, name: str, argv: list[str]) -> tuple[Child, int]:
        """Starts a server and waits until it reports "listening on <port>"; the child and port."""
        child = Child(name, argv, self.s.core)
        found = child.wait_for_line(r"listening on ([1-9][0-9]*)", 20)
        if found is None:
            print(child.tail(), file=sys.stderr)
            raise BenchError(f"{name} did not report 'listening on <port>' within 20 s")
        return child, int(found.group(1))

    def generator(self, name: str, port: int, args: tuple[str, ...]) -> tuple[int, str]:
        args = tuple(arg.replace("{slots}", str(self.s.churn_slots)) for arg in args)
        return run_generator(self.s.load_core, [str(BIN / name), "--host", "127.0.0.1", "--port", str(port), *args,
                                           "--duration", str(self.s.seconds)], self.s.seconds)

    # -- traffic --

    def run_traffic(self, scenario: TrafficScenario, server: str) -> None:
        """One traffic run of a scenario against a fresh server, with its memory figures: RSS
        idle after start, VmHWM at the end of the load, RSS BENCH_AFTER_SECONDS later, and
        MonaAot's heaps at both moments."""
        child, port = self.launch(server, self.server_command(server, scenario.protocol))
        record, name = self.results.record, scenario.name
        try:
            time.sleep(1)  # idle RSS is taken 1 s after start, once start-up work has settled
            idle = status_value(child.pid, "VmRSS")
            record(name, server, "idle_rss_kb", idle)
            if scenario.protocol == "tcp":  # the idle target is the TCP server's
                record("idle", server, "idle_rss_kb", idle)
                record("idle", server, "idle_pss_kb", rollup_value(child.pid, "Pss"))
                record("idle", server, "idle_anon_kb", rollup_value(child.pid, "Anonymous"))
            ticks, preempted = cpu_ticks(child.pid), preemptions(child.pid)
            status, out = self.generator(scenario.generator, port, scenario.args)
            if status != 0:
                raise BenchError(f"{scenario.name} against {server} failed (the load generator's message is "
                                 f"above){': ' + out if out else ''}")
            ticks, preempted = cpu_ticks(child.pid) - ticks, preemptions(child.pid) - preempted
            record(name, server, "peak_rss_kb", status_value(child.pid, "VmHWM"))
            heaps = self.record_heaps(child, name, server, "end")
            if self.s.after_seconds > 0 and scenario.protocol != "tls":  # the memory table's scenarios
                # Nothing signals "memory returned": the server is left idle that long, as a
                # user's server would be after a burst, and then read once.
                time.sleep(self.s.after_seconds)
                record(name, server, "after_rss_kb", status_value(child.pid, "VmRSS"))
                heaps += self.record_heaps(child, name, server, "after")
        finally:
            child.stop()
        self.record_traffic(scenario.name, server, out, ticks, preempted)
        after = self.results.values.get((name, server, "after_rss_kb"), [None])[-1]
        say(f"{scenario.name:<8} {server:<9} {out} cpu_ticks={ticks} idle_rss_kb={idle} "
            f"VmHWM_kb={self.results.values[name, server, 'peak_rss_kb'][-1]}"
            + (f" rss_after_kb={after}" if after is not None else "") + heaps)

    def record_heaps(self, child: Child, scenario: str, server: str, moment: str) -> str:
        """MonaAot's Lua and managed heaps from the last stats line its application logged
        (apps/echo.lua: once a second, so at most 1 s old); "" for a server that logs none (the
        reference, a BENCH_MONAAOT_*CMD), which the table shows as "-"."""
        found = child.last_match(STATS_LINE)
        if found is None:
            return ""
        self.results.record(scenario, server, f"lua_{moment}_kb", int(found.group(2)) / 1024, 1)
        self.results.record(scenario, server, f"managed_{moment}_kb", int(found.group(3)) / 1024, 1)
        return f" lua_{moment}={found.group(2)} managed_{moment}={found.group(3)}"

    def record_traffic(self, scenario: str, server: str, out: str, ticks: int, preempted: int) -> None:
        """Turns the load generator's line and the CPU ticks into the figures of the table."""
        load = LoadResult.parse(out)
        messages, seconds = load.number("messages"), load.number("seconds")
        if messages == 0 or seconds == 0:
            raise BenchError(f"{scenario} against {server} echoed no message: {out}")
        record = self.results.record
        record(scenario, server, "msgs_per_s", messages / seconds, 1)
        record(scenario, server, "mb_per_s", load.number("bytes") / seconds / 1e6, 3)
        record(scenario, server, "p50_us", load.number("p50_us"))
        record(scenario, server, "p99_us", load.number("p99_us"))
        record(scenario, server, "cpu_us_per_msg", ticks / CLK_TCK * 1e6 / messages, 4)
        record(scenario, server, "preempted_per_kmsg", preempted * 1000 / messages, 2)
        if "addr_unavailable" in load.fields:
            record(scenario, server, "addr_unavailable", int(load.number("addr_unavailable")))
        if "lost" in load.fields:
            record(scenario, server, "lost", int(load.number("lost")))
            record(scenario, server, "late", int(load.number("late")))

    def run_idle(self, server: str) -> None:
        """A server holding the idle connections: its RSS once all are accepted."""
        count = self.s.idle_connections
        child, port = self.launch(server, self.server_command(server, "tcp"))
        holder = None
        try:
            base = descriptor_count(child.pid)
            holder = Child("loadgen", [str(BIN / "loadgen"), "--host", "127.0.0.1", "--port", str(port), "--idle",
                                       "--connections", str(count), "--duration", "300"], self.s.core)
            if holder.wait_for_line(r"^connected=", 60) is None:
                raise BenchError(f"{count} idle connections to {server} were not established")
            # Established is the kernel's word; the server's descriptors say when it has accepted
            # them too. Nothing signals that, so it is polled (bounded).
            deadline = time.monotonic() + 30
            while descriptor_count(child.pid) < base + count:
                if time.monotonic() >= deadline:
                    say(f"{server} has not accepted all {count} connections after 30 s")
                    break
                time.sleep(0.1)
            time.sleep(1)  # let the server settle (buffers released, a collection run) before measuring
            rss = status_value(child.pid, "VmRSS")
            self.results.record("idle10k", server, "rss_kb", rss)
            say(f"idle     {server:<9} {count} connections, VmRSS {rss} kB")
        finally:
            if holder is not None:
                holder.stop()
            child.stop()

    # -- timers --
    #
    # What one arm and one firing cost with BENCH_TIMERS (100,000) timers armed, MonaAot's
    # mona:setTimer (docs/api.md, "Timer") against native/bench/timer_reference (an indexed binary
    # min-heap on a plain epoll loop). Both run the same schedule, described in
    # timer_reference.c: every timer fires BENCH_TIMER_FIRES times, its delays 1-1000 ms from a
    # hash of (timer, firing), so each timer gets the same delays on both sides whatever order
    # they fire in; then BENCH_TIMER_REARMS re-arms go round the armed timers, and every timer is
    # stopped.
    #
    # Each server measures its own phases with the process CPU clock: user + system time of all
    # its threads, the accounting of /proc/PID/stat fields 14 and 15 that the echo scenarios
    # read, but in nanoseconds: in ticks of 10 ms the reference's firing phase would be about 40
    # ticks and its re-arm and stop phases a few, too coarse for a ratio. Lua's os.clock() reads
    # that clock (glibc's clock() is CLOCK_PROCESS_CPUTIME_ID); the reference calls clock_gettime.
    #
    # What the Lua side pays that the reference does not, per firing: a Lua call of the timer's
    # function (a closure: lua_pcall with a traceback handler, the upvalues) and reading its
    # return value as the next delay; per arm, a Timer userdata and the closure, allocated when
    # armed (the reference's timers are one preallocated array); per re-arm or stop, the call
    # from Lua into C# (argument checks, the userdata's handle resolved). The heap itself is the
    # same algorithm on both sides.

    def run_timer(self, server: str) -> None:
        """One run of the timer schedule on a server (monaaot or reference)."""
        s = self.s
        if server == "reference":
            argv = [str(BIN / "timer_reference"), str(s.timers), str(s.timer_fires), str(s.timer_rearms)]
        else:
            argv = self.monaaot_command("timer.ini", "www-timer")
        child = Child(f"timer {server}", argv, s.core)  # no port: each prints only its "done" line
        try:
            # Firing ends by about FIRES seconds after the start (delays of at most 1 s); a loop
            # that falls behind gets as long again, and start-up and the re-arms 30 s more.
            found = child.wait_for_line(r"done timers=.*", 2 * s.timer_fires + 30)
            if found is None:
                print(child.tail(), file=sys.stderr)
                raise BenchError(f"timers on {server} did not finish")
            self.results.record("timer", server, "peak_rss_kb", status_value(child.pid, "VmHWM"))
        finally:
            child.stop()
        line = found.group(0)
        done = LoadResult.parse(line)
        if done.number("fires") != s.timers * s.timer_fires:
            raise BenchError(f"timers on {server} fired a wrong count: {line}")
        record = self.results.record
        record("timer", server, "fire_us", done.number("fire_cpu_s") * 1e6 / done.number("fires"), 4)
        record("timer", server, "rearm_us", done.number("rearm_cpu_s") * 1e6 / done.number("rearms"), 4)
        record("timer", server, "stop_us", done.number("stop_cpu_s") * 1e6 / done.number("stops"), 4)
        record("timer", server, "late_ms", done.number("late_ms"), 3)
        record("timer", server, "wall_s", done.number("wall_s"), 3)
        say(f"timer    {server:<9} {line}")

    # -- json --
    #
    # mona:toJSON and mona:fromJSON (native/shim/mona_json.c) against Debian's lua-cjson, both
    # inside the same binary (cjson loaded as a Lua C module): the same apps/json.lua on both
    # sides (one document of 1,000 mixed records, encoded then decoded in a loop for
    # BENCH_JSON_SECONDS of CPU each), MB/s of each side's own text (the two texts differ only in
    # key order and float digits).

    def run_json(self, server: str) -> None:
        """One run of the json loops: monaaot (its codec) or reference (cjson)."""
        s = self.s
        argv = self.monaaot_command("json.ini" if server == "monaaot" else "json-cjson.ini", "www-json")
        child = Child(f"json {server}", argv, s.core)
        try:
            found = child.wait_for_line(r"done codec=.*", 2 * s.json_seconds + 30)
            if found is None:
                print(child.tail(), file=sys.stderr)
                raise BenchError(f"json on {server} did not finish")
        finally:
            child.stop()
        line = found.group(0)
        done = LoadResult.parse(line)
        self.results.record("json", server, "encode_mb_s", done.number("encode_mb_s"), 2)
        self.results.record("json", server, "decode_mb_s", done.number("decode_mb_s"), 2)
        self.results.record("json", server, "bytes", done.number("bytes"))
        say(f"json     {server:<9} {line}")

    # -- relay --
    #
    # A Lua relay on MonaAot: for each accepted front connection a TCPClient to a backend, bytes
    # forwarded both ways. Two figures, each in every round:
    #
    #   speed   loadgen's 16 KiB stream (10 connections, 256 KiB in flight each, every byte
    #           verified) through the relay to native/bench/echo_reference, against the same
    #           load straight to MonaAot's echo application: the relay's CPU per message, its
    #           ratio to the direct echo's (a relay reads and writes every byte twice, so about 2
    #           is par), and both MB/s. The relay runs with its backpressure, as it would be
    #           deployed.
    #   memory  the relay before a slow backend (native/bench/slow_echo, reading
    #           BENCH_RELAY_SLOW_RATE bytes/s), fed by loadgen streaming 4 connections with 32
    #           MiB in flight each: the relay's peak RSS (VmHWM) with backpressure (pause the
    #           side read while the other side's queueing is above BENCH_RELAY_HIGH, resume in
    #           its onFlush: docs/api.md) and without (plain forwarding). Without, the relay
    #           reads its client as fast as it writes and queues what the backend has not taken:
    #           its memory grows towards the 128 MiB loadgen keeps in flight, and loadgen's
    #           window is what bounds it, in well under a second. With it, the relay holds about
    #           one high mark per connection and the bytes wait in the kernel's socket buffers
    #           and in loadgen.
    #
    # In the table the relay's figures stand in the MonaAot column and the direct echo's (speed)
    # or the plain relay's (memory) in the reference column, as the headings say.

    def start_relay(self, backend_argv: list[str], high: int, started: list[Child]) -> tuple[Child, int]:
        """Starts the backend, then the relay in front of it with a high mark (0: none); both
        are added to started (the caller stops them); the relay and its port."""
        backend, backend_port = self.launch("backend", backend_argv)
        started.append(backend)
        (self.work / "relay.ini").write_text(f"[bench]\nport=0\nbackend={backend_port}\nhigh={high}\n")
        relay, port = self.launch("relay", self.monaaot_command("relay.ini", "www-relay"))
        started.insert(0, relay)  # the relay is stopped before its backend
        return relay, port

    def run_relay_speed(self, server: str) -> None:
        """One speed run: monaaot runs the relay (before echo_reference), reference the direct
        echo. Both are recorded as traffic, under scenario "relay"."""
        started: list[Child] = []
        try:
            if server == "monaaot":
                child, port = self.start_relay([str(BIN / "echo_reference"), "0"], self.s.relay_high, started)
            else:
                child, port = self.launch("monaaot", self.server_command("monaaot", "tcp"))
                started.append(child)
            ticks, preempted = cpu_ticks(child.pid), preemptions(child.pid)
            status, out = self.generator("loadgen", port, RELAY_STREAM_ARGS)
            if status != 0:
                raise BenchError(f"relay speed run ({server}) failed (the load generator's message is above)"
                                 f"{': ' + out if out else ''}")
            ticks, preempted = cpu_ticks(child.pid) - ticks, preemptions(child.pid) - preempted
            self.results.record("relay", server, "peak_rss_kb", status_value(child.pid, "VmHWM"))
        finally:
            for started_child in started:
                started_child.stop()
        self.record_traffic("relay", server, out, ticks, preempted)
        say(f"relay    {server:<9} {out} cpu_ticks={ticks}")

    def run_relay_memory(self, server: str) -> None:
        """One memory run before the slow backend: monaaot with backpressure, reference without."""
        high = self.s.relay_high if server == "monaaot" else 0
        started: list[Child] = []
        try:
            relay, port = self.start_relay([str(BIN / "slow_echo"), "0", str(self.s.relay_slow_rate)], high, started)
            # loadgen's exit status is not checked: when its run ends the relay may still hold
            # what the backend has not echoed, and the echo it verified is the figure.
            _, out = self.generator("loadgen", port, RELAY_MEMORY_ARGS)
            if not out.startswith("messages=") or LoadResult.parse(out).number("seconds") == 0:
                raise BenchError(f"relay memory run ({server}): the load generator failed")
            hwm = status_value(relay.pid, "VmHWM")
        finally:
            # The backend first: its connections reset, so the relay drops what it still queues
            # for it rather than draining it at the slow rate when told to stop.
            for started_child in reversed(started):
                started_child.stop()
        load = LoadResult.parse(out)
        self.results.record("relay-memory", server, "peak_rss_kb", hwm)
        self.results.record("relay-memory", server, "mb_per_s",
                            load.number("bytes") / load.number("seconds") / 1e6, 3)
        say(f"relay-memory {server:<9} high={high} {out} VmHWM={hwm} kB")

    # -- workers --
    #
    # [server] workers (docs/api.md): the process started becomes a supervisor that runs no
    # script and starts N copies of the executable, which listen on the same port through
    # SO_REUSEPORT; their log lines reach the supervisor's standard output. What the group
    # measures is the cost of being one of several workers: the CPU per message of the same
    # ping-pong served by N workers against 1, on the same CPUs (BENCH_WORKERS_CPUS). On the
    # 2-core development machine the load generator competes with the workers for those CPUs,
    # so messages/s are shown for information only: scaling needs free cores
    # (docs/performance.md, "Workers").

    def launch_workers(self, workers: int, value: str, www: str) -> tuple[Child, list[int], int]:
        """MonaAot with [server] workers = value (which makes workers processes) on a fixed port,
        once each worker reports "listening on <port>"; the child (the supervisor when
        workers > 1), the pids of the processes that serve (the workers, or the child itself),
        and the port."""
        port = free_port()
        ini = self.work / f"workers-{workers}.ini"
        ini.write_text((f"[server]\nworkers={value}\n" if workers > 1 else "") + f"[bench]\nport={port}\n")
        child = Child(f"monaaot workers={value}", self.monaaot_command(ini.name, www), self.s.workers_cpus)
        try:
            found = child.wait_for_lines(r"listening on ([1-9][0-9]*)", workers, 20)
            if len(found) < workers or any(int(m.group(1)) != port for m in found):
                print(child.tail(), file=sys.stderr)
                raise BenchError(f"MonaAot with workers = {value} did not report 'listening on {port}' "
                                 f"{workers} time(s) within 20 s (a binary without [server] workers, or the "
                                 "port taken meanwhile?)")
            pids = children_of(child.pid) if workers > 1 else [child.pid]
            if len(pids) != workers:
                raise BenchError(f"MonaAot with workers = {value} has {len(pids)} child process(es), "
                                 f"expected {workers}: {pids}")
        except BaseException:
            child.stop()
            raise
        return child, pids, port

    def run_pingpong_generators(self, port: int) -> tuple[int, str]:
        """The tcp group's ping-pong, BENCH_WORKERS_GENERATORS load generators at once (100
        connections each) on BENCH_WORKERS_LOAD_CPUS; the worst exit code and one summary line
        (messages and bytes summed, the longest duration, the median p50, the highest p99)."""
        scenario = TCP_SCENARIOS[0]
        argv = ["taskset", "-c", self.s.workers_load_cpus, str(BIN / scenario.generator), "--host", "127.0.0.1",
                "--port", str(port), *scenario.args, "--duration", str(self.s.seconds)]
        if self.s.workers_generators == 1:
            return run_generator(self.s.workers_load_cpus, argv[3:], self.s.seconds)
        running = [subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
                   for _ in range(self.s.workers_generators)]
        lines: list[LoadResult] = []
        status = 0
        try:
            for generator in running:
                out, _ = generator.communicate(timeout=self.s.seconds + 60)
                status = max(status, generator.returncode)
                lines.append(LoadResult.parse(out.strip()))
        except subprocess.TimeoutExpired:
            raise BenchError(f"a load generator did not end within {self.s.seconds + 60} s") from None
        finally:
            for generator in running:
                if generator.poll() is None:
                    generator.kill()
                    generator.wait()
        total = {key: sum(line.number(key) for line in lines) for key in ("messages", "bytes", "errors")}
        seconds = max(line.number("seconds") for line in lines)
        p50 = median([line.number("p50_us") for line in lines]) or 0.0
        p99 = max(line.number("p99_us") for line in lines)
        return status, (f"messages={total['messages']:.0f} bytes={total['bytes']:.0f} seconds={seconds:.3f} "
                        f"p50_us={p50:.1f} p99_us={p99:.1f} errors={total['errors']:.0f}")

    def run_workers_cpu(self, many: bool) -> None:
        """One ping-pong run against BENCH_WORKERS workers (many) or 1: CPU per message of the
        workers together, and the supervisor's own."""
        workers = self.s.workers if many else 1
        server = WORKER_RUNS[0 if many else 1]
        child, pids, port = self.launch_workers(workers, self.s.workers_value if many else "1", "www")
        try:
            before = [cpu_ticks(pid) for pid in pids]
            supervisor = cpu_ticks(child.pid) if many else 0
            preempted = sum(preemptions(pid) for pid in pids)
            slept = sum(sleeps(pid) for pid in pids)
            status, out = self.run_pingpong_generators(port)
            if status != 0:
                raise BenchError(f"workers ping-pong against {workers} worker(s) failed (the load generator's "
                                 f"message is above){': ' + out if out else ''}")
            each = [cpu_ticks(pid) - tick for pid, tick in zip(pids, before)]
            supervisor = cpu_ticks(child.pid) - supervisor if many else 0
            preempted = sum(preemptions(pid) for pid in pids) - preempted
            slept = sum(sleeps(pid) for pid in pids) - slept
            self.results.record("workers", server, "peak_rss_kb", sum(status_value(pid, "VmHWM") for pid in pids))
        finally:
            child.stop()
        self.record_traffic("workers", server, out, sum(each), preempted)
        messages = LoadResult.parse(out).number("messages")
        if many:  # one worker is the process started: no supervisor
            self.results.record("workers", server, "supervisor_us_per_msg", supervisor / CLK_TCK * 1e6 / messages, 4)
        self.results.record("workers", server, "sleeps_per_kmsg", slept * 1000 / messages, 2)
        shown = " + ".join(str(tick) for tick in each)
        say(f"workers  {workers} worker(s) {out} cpu_ticks={shown}" +
            (f" supervisor_ticks={supervisor}" if many else ""))

    def run_workers_spread(self) -> None:
        """BENCH_WORKERS workers and BENCH_WORKERS_CONNECTIONS connections opened one after the
        other and all held open until each has said which worker accepted it (apps/spread.lua)."""
        count, workers = self.s.workers_connections, self.s.workers
        child, _, port = self.launch_workers(workers, self.s.workers_value, "www-spread")
        connections: list[socket.socket] = []
        per_worker: collections.Counter[int] = collections.Counter()
        highest: dict[int, int] = {}
        try:
            deadline = time.monotonic() + 60
            for _ in range(count):
                connections.append(socket.create_connection(("127.0.0.1", port), timeout=10))
            for connection in connections:
                greeting = b""
                while not greeting.endswith(b"\n"):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise BenchError(f"the spread run's {count} connections were not all greeted within 60 s")
                    connection.settimeout(left)
                    try:
                        chunk = connection.recv(64)
                    except socket.timeout:
                        continue
                    if not chunk:
                        raise BenchError("a connection of the spread run was closed before its greeting")
                    greeting += chunk
                found = re.fullmatch(rb"worker ([0-9]+) accepted ([0-9]+)\n", greeting)
                if found is None:
                    raise BenchError(f"the spread run's greeting is malformed: {greeting!r}")
                worker, accepted = int(found.group(1)), int(found.group(2))
                per_worker[worker] += 1
                highest[worker] = max(highest.get(worker, 0), accepted)
        except OSError as error:
            raise BenchError(f"the spread run could not open its {count} connections: {error}") from None
        finally:
            for connection in connections:
                connection.close()
            child.stop()
        # Each worker's own count must agree with the greetings it sent: every connection it
        # accepted was one of ours, and was counted once.
        if set(per_worker) - set(range(1, workers + 1)) or any(highest[w] != per_worker[w] for w in per_worker):
            raise BenchError(f"the spread run's counts disagree: greetings {dict(per_worker)}, "
                             f"the workers' own counts {highest}")
        for worker in range(1, workers + 1):
            self.results.record("spread", "many", f"worker{worker}", per_worker[worker])
        self.results.record("spread", "many", "largest_share", max(per_worker.values()) / count, 4)
        shown = ", ".join(f"worker {w} accepted {per_worker[w]}" for w in range(1, workers + 1))
        say(f"spread   {count} connections: {shown}")

    # -- the rounds --

    def run(self) -> None:
        traffic = (TCP_SCENARIOS if self.s.selected("tcp") else ()) + \
            (UDP_SCENARIOS if self.s.selected("udp") else ())
        for round_number in range(1, self.s.rounds + 1):
            # Alternate who goes first.
            order = SERVERS if round_number % 2 else tuple(reversed(SERVERS))
            say(f"round {round_number} of {self.s.rounds}")
            for scenario in traffic:
                for server in order:
                    self.run_traffic(scenario, server)
            if self.s.selected("tcp") and self.s.idle_connections > 0:
                for server in order:
                    self.run_idle(server)
            if self.s.selected("timer"):
                for server in order:
                    self.run_timer(server)
            if self.s.selected("relay"):
                for server in order:
                    self.run_relay_speed(server)
                for server in order:
                    self.run_relay_memory(server)
            if self.s.selected("json"):
                for server in order:
                    self.run_json(server)
            if self.s.selected("workers"):
                for many in ((False, True) if round_number % 2 else (True, False)):
                    self.run_workers_cpu(many)
                self.run_workers_spread()
            if self.s.selected("tls"):
                for scenario in TLS_SCENARIOS:
                    for server in order:
                        self.run_traffic(scenario, server)
                if self.s.plain_stream_in_tls():  # the plain figure the TLS stream is related to
                    for server in order:
                        self.run_traffic(TCP_SCENARIOS[1], server)


# ---- report ------------------------------------------------------------------------------------


class Report:
    """The table of medians and ratios, and the verdicts on the targets."""

    def __init__(self, settings: Settings, results: Results) -> None:
        self.s = settings
        self.r = results

    def row(self, label: str, scenario: str, figure: str, scale: float, fmt: str, target: str = "",
            total: bool = False, servers: tuple[str, str] = SERVERS) -> None:
        """One row: the rounds summarised by their median (with the ratio MonaAot/reference, or
        of the two servers given), or by their total for counts (no ratio); kB figures are
        divided by scale."""
        summary = self.r.total if total else self.r.median
        mine, ref = summary(scenario, servers[0], figure), summary(scenario, servers[1], figure)

        def show(value: float | None) -> str:
            return "-" if value is None else fmt % (value / scale)

        ratio = "-" if total or mine is None or not ref else f"{mine / ref:.2f}"
        print(f"  {label:<26} {show(mine):>14} {show(ref):>14} {ratio:>9}   {target}")

    def ratio_row(self, scenario: str, figure: str, target: str, servers: tuple[str, str] = SERVERS) -> None:
        """The per-round ratios of a figure, their median in the ratio column."""
        each = " ".join(f"{ratio:.2f}" for ratio in self.r.round_ratios(scenario, figure, *servers))
        middle = self.r.ratio_of(scenario, figure, *servers)
        print(f"  {'  ratio in each round':<26} {each:>29} {'-' if middle is None else f'{middle:.2f}':>9}   {target}")

    def table(self) -> None:
        s = self.s
        overridden = [p for p in ("tcp", "udp", "tls") if s.selected(p) and s.override_of(p)]
        if s.plain_stream_in_tls() and s.tcp_override:
            overridden.append("tcp")
        label = "MonaAot slot" if overridden else "MonaAot"
        cores = (f"server and load generator on core {s.core}" if s.load_core == s.core
                 else f"server on core {s.core}, load generator on core {s.load_core}")
        print(f"\nMedians of {s.rounds} round(s), {s.seconds} s per run, {cores}"
              + (f" (the workers group: servers on CPUs {s.workers_cpus}, load on {s.workers_load_cpus})"
                 if s.selected("workers") else ""))
        if "tcp" in overridden:
            print(f"(MonaAot slot ran: {s.tcp_override})")
        if "udp" in overridden:
            print(f"(MonaAot slot ran for UDP: {s.udp_override})")
        if "tls" in overridden:
            print(f"(MonaAot slot ran for TLS: {s.tls_override})")
        if s.groups == ["workers"]:  # that group's rows name their own two columns
            print(f"\n  {'figure':<26} {'':>14} {'':>14} {'ratio':>9}   target")
        else:
            print(f"\n  {'figure':<26} {label:>14} {'reference':>14} {'ratio':>9}   target")
        if s.selected("tcp"):
            self.tcp_rows()
        if s.selected("udp"):
            self.udp_rows()
        if s.selected("timer"):
            self.timer_rows()
        if s.selected("relay"):
            self.relay_rows()
        if s.selected("tls"):
            self.tls_rows()
        if s.selected("json"):
            self.json_rows()
        if s.selected("workers"):
            self.workers_rows()
        print()
        self.memory_table()

    def memory_table(self) -> None:
        """Every traffic scenario's memory, per server (medians of the rounds, MiB): RSS idle
        after start, VmHWM over the run, RSS BENCH_AFTER_SECONDS after the load, and MonaAot's
        Lua and managed heaps at the end of the load and after (its last stats line then)."""
        s = self.s
        scenarios = (TCP_SCENARIOS if s.selected("tcp") else ()) + (UDP_SCENARIOS if s.selected("udp") else ())
        if not scenarios:
            return
        after = (f"RSS and heaps {s.after_seconds} s after the load" if s.after_seconds
                 else "nothing read after the load (BENCH_AFTER_SECONDS=0)")
        print(f"Memory, MiB (medians of {s.rounds} round(s)): VmHWM over the run, heaps at its end; {after}")
        print(f"  {'scenario':<13} {'server':<9} {'idle RSS':>8} {'VmHWM':>8} {'RSS after':>9} "
              f"{'Lua end':>8} {'Lua after':>9} {'mgd end':>8} {'mgd after':>9}")
        for scenario in scenarios:
            for server in SERVERS:
                cells = []
                for figure in ("idle_rss_kb", "peak_rss_kb", "after_rss_kb", "lua_end_kb", "lua_after_kb",
                               "managed_end_kb", "managed_after_kb"):
                    found = self.r.median(scenario.name, server, figure)
                    cells.append("-" if found is None else f"{found / 1024:.1f}")
                widths = (8, 8, 9, 8, 9, 8, 9)
                print(f"  {scenario.name:<13} {server:<9} " + " ".join(f"{c:>{w}}" for c, w in zip(cells, widths)))
        print(f"  targets (MonaAot): VmHWM <= {PEAK_TARGET_MIB} MiB in {', '.join(PEAK_TARGET_SCENARIOS)}; "
              f"RSS after <= {AFTER_TARGET_MIB} MiB; idle RSS <= {IDLE_TARGET_MIB} MiB")
        print()

    def traffic_rows(self, scenario: TrafficScenario) -> None:
        name, unit = scenario.name, scenario.unit
        print(f" {scenario.title.replace('{slots}', str(self.s.churn_slots))}")
        self.row(f"{unit}s/s", name, "msgs_per_s", 1, "%.0f")
        if unit not in ("handshake", "connection"):  # a churn's 64 bytes per loop say nothing as MB/s
            self.row("MB/s (echoed)", name, "mb_per_s", 1, "%.2f")
        if scenario.timed:
            self.row(f"{scenario.timed} p50, us", name, "p50_us", 1, "%.1f")
            self.row(f"{scenario.timed} p99, us", name, "p99_us", 1, "%.1f")
        self.row(f"server CPU per {unit}, us", name, "cpu_us_per_msg", 1, "%.3f")
        self.ratio_row(name, "cpu_us_per_msg", f"{scenario.target} (median of rounds)")
        self.row("server preempted per 1000", name, "preempted_per_kmsg", 1, "%.1f")
        self.row("server peak RSS, MiB", name, "peak_rss_kb", 1024, "%.1f")

    def tcp_rows(self) -> None:
        for scenario in TCP_SCENARIOS:
            self.traffic_rows(scenario)
            if scenario.generator == "churngen":
                self.row("connects EADDRNOTAVAIL, all", scenario.name, "addr_unavailable", 1, "%.0f", total=True)
        print(" memory")
        self.row("idle RSS, MiB", "idle", "idle_rss_kb", 1024, "%.1f", f"MonaAot <= {IDLE_TARGET_MIB} MiB")
        self.row("idle PSS, MiB", "idle", "idle_pss_kb", 1024, "%.2f", "shared pages divided")
        self.row("idle anonymous, MiB", "idle", "idle_anon_kb", 1024, "%.2f", "written by the process")
        if self.s.idle_connections > 0:
            self.row(f"RSS, {self.s.idle_connections} idle conns, MiB", "idle10k", "rss_kb", 1024, "%.1f",
                     "MonaAot <= 64 MiB")

    def udp_rows(self) -> None:
        for scenario in UDP_SCENARIOS:
            self.traffic_rows(scenario)
            self.row("datagrams lost, all rounds", scenario.name, "lost", 1, "%.0f", total=True)
            self.row("  of which echoed late", scenario.name, "late", 1, "%.0f", total=True)

    def timer_rows(self) -> None:
        print(f" timers: {self.s.timers} armed, {self.s.timer_fires} firings each, delays 1-1000 ms")
        self.row("CPU per arm+fire, us", "timer", "fire_us", 1, "%.3f")
        self.ratio_row("timer", "fire_us", "(median of rounds)")
        self.row("CPU per re-arm, us", "timer", "rearm_us", 1, "%.3f")
        self.ratio_row("timer", "rearm_us", "(median of rounds)")
        self.row("CPU per stop, us", "timer", "stop_us", 1, "%.3f")
        self.row("mean lateness, ms", "timer", "late_ms", 1, "%.2f")
        self.row("firing phase, wall s", "timer", "wall_s", 1, "%.2f")
        self.row("peak RSS, MiB", "timer", "peak_rss_kb", 1024, "%.1f")

    def relay_rows(self) -> None:
        print(f" {'relay, 16 KiB stream x 10':<27} {'relay':>14} {'direct echo':>14}")
        self.row("MB/s (echoed)", "relay", "mb_per_s", 1, "%.2f")
        self.row("server CPU per message, us", "relay", "cpu_us_per_msg", 1, "%.3f")
        self.ratio_row("relay", "cpu_us_per_msg", "(median of rounds; a relay does twice the I/O)")
        self.row("server peak RSS, MiB", "relay", "peak_rss_kb", 1024, "%.1f")
        print(f" {'relay, backend at %g MB/s' % (self.s.relay_slow_rate / 1e6):<27} {'backpressure':>14} "
              f"{'none':>14}")
        self.row("relay peak RSS (VmHWM), MiB", "relay-memory", "peak_rss_kb", 1024, "%.1f")
        self.row("MB/s (echoed)", "relay-memory", "mb_per_s", 1, "%.2f")

    def tls_rows(self) -> None:
        for scenario in TLS_SCENARIOS:
            self.traffic_rows(scenario)
        # Each server's TLS stream over its own plain stream, round by round: what TLS costs it.
        print(f" {'TLS stream over plain stream':<27} {'':>14} {'':>14}")
        mine = self.r.across("monaaot", "cpu_us_per_msg", "tls-stream", "stream")
        ref = self.r.across("reference", "cpu_us_per_msg", "tls-stream", "stream")

        def show(values: list[float]) -> str:
            found = median(values)
            return "-" if found is None else f"{found:.2f}"

        print(f"  {'CPU per message, x plain':<26} {show(mine):>14} {show(ref):>14} {'':>9}   (median of rounds)")

    def json_rows(self) -> None:
        print(f" {'json, 1,000 records':<27} {'mona:toJSON':>14} {'lua-cjson':>14}")
        self.row("document, bytes", "json", "bytes", 1, "%.0f")
        self.row("encode, MB/s", "json", "encode_mb_s", 1, "%.1f")
        self.ratio_row("json", "encode_mb_s", ">= 0.8 (median of rounds)")
        self.row("decode, MB/s", "json", "decode_mb_s", 1, "%.1f")
        self.ratio_row("json", "decode_mb_s", ">= 0.8 (median of rounds)")

    def workers_rows(self) -> None:
        s, servers = self.s, WORKER_RUNS
        shared = set(_cpus_of(s.workers_cpus)) & set(_cpus_of(s.workers_load_cpus))
        where = f"CPUs {s.workers_cpus}" + (", the load generator too" if s.workers_load_cpus == s.workers_cpus
                                            else f", load generator(s) on {s.workers_load_cpus}")
        print(f" {'workers, ping-pong 64 B x 100':<27} {f'{s.workers} workers':>14} {'1 worker':>14}   ({where})")
        generators = f"{s.workers_generators} generators x 100 connections" if s.workers_generators > 1 else ""
        if generators:
            print(f"  ({generators})")
        self.row("messages/s", "workers", "msgs_per_s", 1, "%.0f",
                 "information only: shared CPUs" if shared else "", servers=servers)
        self.row("round trip p50, us", "workers", "p50_us", 1, "%.1f", servers=servers)
        self.row("round trip p99, us", "workers", "p99_us", 1, "%.1f", servers=servers)
        self.row("workers' CPU per msg, us", "workers", "cpu_us_per_msg", 1, "%.3f", servers=servers)
        self.ratio_row("workers", "cpu_us_per_msg", "<= 1.05 (median of rounds)", servers=servers)
        self.row("supervisor CPU per msg, us", "workers", "supervisor_us_per_msg", 1, "%.4f", servers=servers)
        self.row("workers preempted per 1000", "workers", "preempted_per_kmsg", 1, "%.1f", servers=servers)
        self.row("workers' sleeps per 1000", "workers", "sleeps_per_kmsg", 1, "%.1f", "wake-ups: 1000/batch",
                 servers=servers)
        self.row("peak RSS of all, MiB", "workers", "peak_rss_kb", 1024, "%.1f", servers=servers)
        counts = [self.r.values.get(("spread", "many", f"worker{w}"), []) for w in range(1, s.workers + 1)]
        shares = self.r.values.get(("spread", "many", "largest_share"), [])
        print(f" {s.workers} workers, {s.workers_connections} connections held open: accepted by worker "
              + " / ".join(str(w) for w in range(1, s.workers + 1)))
        each = " ".join("/".join(f"{c:.0f}" for c in one_round) for one_round in zip(*counts))
        print(f"  {'  in each round':<26} {each:>29}")
        each = " ".join(f"{share * 100:.1f}%" for share in shares)
        print(f"  {'  largest share':<26} {each:>29} {'':>9}   <= {self.spread_limit() * 100:.1f}% (every round)")

    def spread_limit(self) -> float:
        """The largest share of the connections one worker may take: 65% of 2 (the issue's
        35/65), 130% of a fair share in general."""
        return round(1.3 / self.s.workers, 4)

    def check_targets(self) -> bool:
        """Prints one verdict per target; False when any was missed."""
        s, met = self.s, True

        def verdict(what: str, value: str, limit: str) -> None:
            nonlocal met
            if value != "-" and float(value) <= float(limit):
                print(f"  target met:    {what} {value} <= {limit}")
            else:
                print(f"  target MISSED: {what} {value}, must be <= {limit}")
                met = False

        def ratio(scenario: TrafficScenario) -> str:
            found = self.r.ratio_of(scenario.name, "cpu_us_per_msg")
            return "-" if found is None else f"{found:.3f}"

        def mib(scenario: str, figure: str) -> str:
            found = self.r.median(scenario, "monaaot", figure)
            return "-" if found is None else f"{found / 1024:.1f}"

        if s.selected("tcp"):
            for scenario in TCP_SCENARIOS:
                verdict(scenario.verdict, ratio(scenario), f"{scenario.limit:g}")
            verdict("idle RSS (MiB)", mib("idle", "idle_rss_kb"), f"{IDLE_TARGET_MIB}")
            if s.idle_connections > 0:
                verdict(f"RSS with {s.idle_connections} idle connections (MiB)", mib("idle10k", "rss_kb"), "64")
        if s.selected("udp"):
            for scenario in UDP_SCENARIOS:
                verdict(scenario.verdict, ratio(scenario), f"{scenario.limit:g}")
        for scenario in (TCP_SCENARIOS if s.selected("tcp") else ()) + (UDP_SCENARIOS if s.selected("udp") else ()):
            if scenario.name in PEAK_TARGET_SCENARIOS:
                verdict(f"{scenario.name} VmHWM (MiB)", mib(scenario.name, "peak_rss_kb"), f"{PEAK_TARGET_MIB}")
            if s.after_seconds > 0:
                verdict(f"{scenario.name} RSS {s.after_seconds} s after the load (MiB)",
                        mib(scenario.name, "after_rss_kb"), f"{AFTER_TARGET_MIB}")
        if s.selected("tls"):
            for scenario in TLS_SCENARIOS:
                verdict(scenario.verdict, ratio(scenario), f"{scenario.limit:g}")
        if s.selected("workers"):
            found = self.r.ratio_of("workers", "cpu_us_per_msg", *WORKER_RUNS)
            verdict(f"CPU/message ratio, {s.workers} workers over 1", "-" if found is None else f"{found:.3f}", "1.05")
            shares = self.r.values.get(("spread", "many", "largest_share"), [])
            verdict("largest worker's share of the connections, worst round",
                    f"{max(shares):.3f}" if shares else "-", f"{self.spread_limit():g}")
        if s.selected("json"):
            for figure in ("encode_mb_s", "decode_mb_s"):  # higher is better: at least 0.8 of cjson's
                found = self.r.ratio_of("json", figure)
                if found is not None and found >= 0.8:
                    print(f"  target met:    json {figure} x cjson {found:.3f} >= 0.8")
                else:
                    print(f"  target MISSED: json {figure} x cjson {found}, must be >= 0.8")
                    met = False
        return met


# ---- main --------------------------------------------------------------------------------------


def on_signal(number: int, _frame: object) -> None:
    # An exception, so that every finally block stops what it started.
    raise SystemExit(128 + number)


def main() -> int:
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    work = None
    try:
        settings = read_settings()
        say("building native/build/bench (make -C native bench)")
        if subprocess.run(["make", "-s", "-C", str(ROOT / "native"), "bench"]).returncode != 0:
            raise BenchError("make -C native bench failed")
        work = Path(tempfile.mkdtemp(prefix="monaaot-bench.", dir=os.environ.get("TMPDIR", "/tmp")))
        bench = Bench(settings, work)
        bench.raise_descriptor_limit()
        bench.write_applications()
        bench.run()
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    finally:
        Child.stop_all()
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    report = Report(settings, bench.results)
    report.table()
    sys.stdout.flush()
    if not report.check_targets() and settings.strict:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
