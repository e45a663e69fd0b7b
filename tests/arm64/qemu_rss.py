#!/usr/bin/env python3
"""Splits the resident memory of a running qemu-user process into qemu's own and the guest's.

Usage: tests/arm64/qemu_rss.py PID

VmRSS of qemu-aarch64 counts qemu itself besides the emulated program: its heap (where it keeps
about 24 bytes per 4 KiB page of every guest mapping, reserved address space included, so the
GC's large PROT_NONE reservation alone costs it ~290 MB), its code cache of translated guest
code (the rwx mapping), its own binary, host libraries and stack. What is left are the guest
program's pages, libc6:arm64's loader and libc included: the estimate of what a device would
show (docs/install.md, "Size and memory per architecture").
"""
import sys

own = guest = 0
name = perms = ""
with open(f"/proc/{sys.argv[1]}/smaps", encoding="ascii", errors="replace") as smaps:
    for line in smaps:
        fields = line.split()
        if not fields:
            continue
        if not fields[0].endswith(":"):  # a mapping's header: range perms offset dev inode [name]
            perms = fields[1]
            name = fields[5] if len(fields) > 5 else ""
        elif fields[0] == "Rss:":
            kb = int(fields[1])
            if (name in ("[heap]", "[stack]", "[vvar]", "[vdso]") or "qemu" in name
                    or "/x86_64-linux-gnu/" in name or perms == "rwxp"):
                own += kb
            else:
                guest += kb
print(f"VmRSS {own + guest} kB: qemu's own {own} kB, guest {guest} kB")
