#!/usr/bin/env python3
"""Hash and encoding speed (python3 tests/bench/hash_bench.py, after out/monaaot is built):
MB/s of mona:hash, mona:toBase64, mona:fromBase64 and mona:toHex on a 1 MiB string, measured
inside a Lua application of out/monaaot (wall clock around BENCH_HASH_ROUNDS calls, default
300), against Python's hashlib (OpenSSL) on the same 1 MiB in the same run and the system's
sha256sum on a 64 MiB file (its time includes reading the file from the page cache and
starting the process). Figures: docs/performance.md, "Hashes and encodings". Standard library
only; the child is killed by its pid if it does not finish in time.
"""
import hashlib
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = pathlib.Path(os.environ.get("MONAAOT_BINARY", ROOT / "out" / "monaaot"))
ROUNDS = int(os.environ.get("BENCH_HASH_ROUNDS", "300"))
MIB = 1 << 20

APP = """
local data = ("\\1\\2\\3\\4\\5\\6\\7\\8"):rep(131072)
local n = %d
local function measure(label, fn)
  fn() -- warm
  local t0 = mona:time()
  for _ = 1, n do fn() end
  local ms = math.max(mona:time() - t0, 1)
  NOTE("bench ", label, " ", string.format("%%.0f", n * 1000 / ms))
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
        deadline = time.monotonic() + 300
        try:
            for line in child.stdout:  # type: ignore[union-attr]
                if "bench done" in line:
                    break
                found = re.search(r"bench (\S+) (\d+)$", line.strip())
                if found:
                    figures[found.group(1)] = float(found.group(2))
                if time.monotonic() > deadline:
                    raise RuntimeError("out/monaaot did not finish the benchmark in 300 s")
        finally:
            child.kill()
            child.wait(timeout=10)
        return figures


def hashlib_figures() -> dict[str, float]:
    data = bytes(range(1, 9)) * (MIB // 8)
    figures = {}
    for name in ("md5", "sha1", "sha256", "sha512"):
        hashlib.new(name, data).digest()
        t0 = time.perf_counter()
        for _ in range(ROUNDS):
            hashlib.new(name, data).digest()
        figures[name] = ROUNDS / (time.perf_counter() - t0)
    return figures


def sha256sum_figure() -> float:
    with tempfile.NamedTemporaryFile() as file:
        file.write(bytes(range(1, 9)) * (8 * MIB))
        file.flush()
        subprocess.run(["sha256sum", file.name], check=True, capture_output=True, timeout=60)
        t0 = time.perf_counter()
        subprocess.run(["sha256sum", file.name], check=True, capture_output=True, timeout=60)
        return 64 / (time.perf_counter() - t0)


def main() -> int:
    if not BINARY.exists():
        print(f"{BINARY} is missing: run ./build.sh first", file=sys.stderr)
        return 1
    mine = monaaot_figures()
    ref = hashlib_figures()
    print(f"MB/s (MiB per second) on 1 MiB, {ROUNDS} calls each")
    print(f"{'function':<14}{'monaaot':>10}{'hashlib':>10}{'ratio':>8}")
    for name, value in mine.items():
        other = ref.get(name)
        print(f"{name:<14}{value:>10.0f}" + (f"{other:>10.0f}{value / other:>8.2f}" if other else ""))
    print(f"sha256sum on a 64 MiB file: {sha256sum_figure():.0f} MB/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
