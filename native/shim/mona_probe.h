/* Layout probes: the C compiler's answer, for the target it compiles for, on the size and field
 * offsets of every struct that C# declares again to share it with the kernel or with C (the
 * kernel's epoll_event, msghdr, mmsghdr, iovec, sockaddrs, rlimit...; the shim's mona_handle of
 * mona_binding.h as ScriptType.Handle), and on the value of LUA_REGISTRYINDEX. The server
 * compares them with its own declarations at every start (MonaAot.Interop.LayoutCheck; docs/
 * architecture.md, "Architectures"), so a build for another architecture or libc whose layout
 * differs refuses to start instead of corrupting memory. On Windows only the shim's and Lua's
 * entries are there: the kernel structs are the Unix build's. */
#ifndef MONA_PROBE_H
#define MONA_PROBE_H

#include "mona_api.h"

/* One answer: "name" is a struct's size, "name.field" a field's offset, a macro's name its value. */
typedef struct {
    const char *name;
    long long value;
} mona_layout;

/* Points *table at the answers (static, never freed) and returns how many there are. */
MONA_API int mona_layouts(const mona_layout **table);

#endif
