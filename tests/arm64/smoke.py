#!/usr/bin/env python3
"""A quick proof that an arm64 build runs (docs/architecture.md, "Architectures"): starts
out/linux-arm64/monaaot under qemu-aarch64 (through the arm64 loader and libc of libc6:arm64)
on a www of its own, with --log=7, and checks that the layout check passed ("N layouts
checked"), that the default www's TCP echo answers and that a UDP socket echoes a datagram, on
loopback ports the kernel chose. Every wait is bounded; the server is stopped with SIGTERM
(SIGKILL after 20 s) by its PID. The end-to-end suites under qemu are ./build.sh test-arm64.

usage: tests/arm64/smoke.py [BINARY]   (default out/linux-arm64/monaaot)"""
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "out", "linux-arm64", "monaaot")
TIMEOUT = 60  # qemu starts the binary in about a second; far more under load

MAIN = """
local tcp = mona:createTCPServer()
function tcp:onConnection(client)
  function client:onReception(data) self:send(data) end
end
local ok, why = tcp:start("127.0.0.1:0")
if not ok then error(why) end
local udp = mona:createUDPSocket()
function udp:onReception(data, address) self:send(data, address) end
local err = udp:bind("127.0.0.1:0")
if err then error(err) end
NOTE("smoke tcp=", tcp.port, " udp=", udp.address)
"""


def main():
    www = tempfile.mkdtemp(prefix="monaaot-arm64-smoke.")
    with open(os.path.join(www, "main.lua"), "w") as f:
        f.write(MAIN)
    ini = www + ".ini"
    open(ini, "w").close()
    server = subprocess.Popen(["qemu-aarch64", BINARY, "--log=7", "--config=" + ini, www],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l) for l in server.stdout], daemon=True).start()
    try:
        checked = tcp_port = udp_port = None
        deadline = time.monotonic() + TIMEOUT
        while tcp_port is None:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise SystemExit(f"smoke: no 'smoke tcp=' line within {TIMEOUT} s")
            sys.stdout.write(line)
            if "layouts checked" in line:
                checked = line.strip()
            if "FATAL" in line:
                raise SystemExit("smoke: the server refused to start")
            if "smoke tcp=" in line:
                words = line.split("smoke tcp=")[1].split()
                tcp_port = int(words[0])
                udp_port = int(words[1].split("=")[1].rsplit(":", 1)[1])
        if checked is None:
            raise SystemExit("smoke: no 'layouts checked' DEBUG line")
        with socket.create_connection(("127.0.0.1", tcp_port), timeout=TIMEOUT) as c:
            c.sendall(b"hello arm64")
            got = b""
            while len(got) < 11:
                chunk = c.recv(64)
                if not chunk:
                    break
                got += chunk
        if got != b"hello arm64":
            raise SystemExit(f"smoke: TCP echo answered {got!r}")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.settimeout(TIMEOUT)
            u.sendto(b"datagram", ("127.0.0.1", udp_port))
            data, _ = u.recvfrom(64)
        if data != b"datagram":
            raise SystemExit(f"smoke: UDP echo answered {data!r}")
        print(f"smoke: ok ({checked.split('] ')[-1] if '] ' in checked else checked}; TCP and UDP echo on loopback)")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=20)
        shutil.rmtree(www, ignore_errors=True)
        os.unlink(ini)


if __name__ == "__main__":
    main()
