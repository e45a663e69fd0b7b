"""The Linux side of the Windows tests' Linux peers (tests/MonaAot.Tests.Support/WineChild.cs).

wine.sh starts this before the Windows test program and stops it after. A test under Wine
connects, sends one line: a JSON list, the argv of a program to start, and reads back "ok" or
"failed <why>". The program (the launcher of WineChild.cs) then connects back to the test
program itself. The test program under Wine never starts a Linux program: Wine 8 can, but
doing it while other threads make and close handles left handles of the test program invalid
(a completion port, a socket), so the spawning happens here, outside Wine.

Prints its port on the first line of its output; runs until killed.
"""
import json
import socket
import subprocess
import sys

listener = socket.socket()
listener.bind(('127.0.0.1', 0))
listener.listen(64)
print(listener.getsockname()[1], flush=True)
children = []
while True:
    conn, _ = listener.accept()
    children = [child for child in children if child.poll() is None]  # reap the ended ones
    with conn:
        conn.settimeout(30)
        data = b''
        try:
            while not data.endswith(b'\n'):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            argv = json.loads(data)
            children.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL))
            conn.sendall(b'ok\n')
        except Exception as e:  # a bad request fails that request only
            try:
                conn.sendall(('failed %s\n' % e).encode())
            except OSError:
                pass
