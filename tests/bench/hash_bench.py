#!/usr/bin/env python3
"""Hash and encoding speed (python3 tests/bench/hash_bench.py, after out/monaaot is built):
MB/s of mona:hash, mona:toBase64, mona:fromBase64 and mona:toHex on a 1 MiB string, measured
inside a Lua application of out/monaaot (wall clock around BENCH_HASH_ROUNDS calls, default
300; the best of 5 such runs, which a busy machine disturbs least), against Python's hashlib
(OpenSSL; best of 5 as well) on the same 1 MiB in the same run, the two alternated three times and the system's sha256sum on
a 64 MiB file (best of 3; its time includes reading the file from the page cache and starting
the process). Figures: docs/performance.md, "Hashes and encodings". Standard library
only; the child is killed by its pid if it does not finish in time.
"""
import hashlib
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = pathlib.Path(os.environ.get("MONAAOT_BINARY", ROOT / "out" / "monaaot"))
ROUNDS = int(os.environ.get("BENCH_HASH_ROUNDS", "300"))
ALTERNATIONS = 3  # MonaAot, then hashlib, three times
MIB = 1 << 20

APP = """
local data = ("\\1\\2\\3\\4\\5\\6\\7\\8"):rep(131072)
local n = %d
local function measure(label, fn)
  fn() -- warm
  local best = math.huge
  for _ = 1, 5 do
    local t0 = mona:time()
    for _ = 1, n do fn() end
    best = math.min(best, math.max(mona:time() - t0, 1))
  end
  NOTE("bench ", label, " ", string.format("%%.0f", n * 1000 / best))
end
for _, name in ipairs({ "md5", "sha1", "sha256", "sha512" }) do
  measure(name, function() return mona:hash(name, data) end)
end
measure("hmac-sha256", function() return mona:hmac("sha256", "key", data) end)
local text = mona:toBase64(data)
measure("toBase64", function() return mona:toBase64(data) end)
measure("fromBase64", function() return mona:fromBase64(text) end)
measure("toHex", function() return mona:toHex(data) end)
NOTE("bench done")
"""


def monaaot_figures() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as www:
        pathlib.Path(www, "main.lua").write_text(APP % ROUNDS)
        child = subprocess.Popen([str(BINARY), www], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        figures: dict[str, float] = {}
        watchdog = threading.Timer(300, child.kill)  # a hung child ends the read loop below
        watchdog.start()
        try:
            for line in child.stdout:  # type: ignore[union-attr]
                if "bench done" in line:
                    break
                found = re.search(r"bench (\S+) (\d+)$", line.strip())
                if found:
                    figures[found.group(1)] = float(found.group(2))
            else:
                raise RuntimeError("out/monaaot ended (or was stopped after 300 s) before the benchmark did")
        finally:
            watchdog.cancel()
            child.kill()
            child.wait(timeout=10)
        return figures


def hashlib_figures() -> dict[str, float]:
    data = bytes(range(1, 9)) * (MIB // 8)
    figures = {}
    for name in ("md5", "sha1", "sha256", "sha512"):
        hashlib.new(name, data).digest()
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(ROUNDS):
                hashlib.new(name, data).digest()
            best = min(best, time.perf_counter() - t0)
        figures[name] = ROUNDS / best
    return figures


def sha256sum_figure() -> float:
    with tempfile.NamedTemporaryFile() as file:
        file.write(bytes(range(1, 9)) * (8 * MIB))
        file.flush()
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run(["sha256sum", file.name], check=True, capture_output=True, timeout=60)
            best = min(best, time.perf_counter() - t0)
        return 64 / best


def main() -> int:
    if not BINARY.exists():
        print(f"{BINARY} is missing: run ./build.sh first", file=sys.stderr)
        return 1
    # Alternated, the best of each kept: drift of a shared machine hits both alike.
    mine: dict[str, float] = {}
    ref: dict[str, float] = {}
    for _ in range(ALTERNATIONS):
        for name, value in monaaot_figures().items():
            mine[name] = max(value, mine.get(name, 0))
        for name, value in hashlib_figures().items():
            ref[name] = max(value, ref.get(name, 0))
    print(f"MB/s (MiB per second) on 1 MiB, best of {5 * ALTERNATIONS} runs of {ROUNDS} calls each")
    print(f"{'function':<14}{'monaaot':>10}{'hashlib':>10}{'ratio':>8}")
    for name, value in mine.items():
        other = ref.get(name)
        print(f"{name:<14}{value:>10.0f}" + (f"{other:>10.0f}{value / other:>8.2f}" if other else ""))
    print(f"sha256sum on a 64 MiB file: {sha256sum_figure():.0f} MB/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
