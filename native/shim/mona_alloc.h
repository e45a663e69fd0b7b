/* The allocator of MonaAot's Lua state: small blocks (message strings, table parts) recycled
 * on per-size free lists, the rest from malloc, and a count of the bytes Lua holds. */
#ifndef MONA_ALLOC_H
#define MONA_ALLOC_H

#include <lua.h>
#include <stddef.h>

#include "mona_api.h"

typedef struct mona_heap mona_heap;

/* Where the loop thread is with respect to script code, kept by mona_guard.c: the allocator
 * enforces the memory limit only while `depth` > 0 and `in_host` is 0 (script code inside a
 * protected call, where running out of memory is a Lua error; outside, a failed allocation
 * would be a panic, and inside a host function it would raise through C# frames), and the
 * watchdog reads `calls` to tell a call that runs on from a new one. */
typedef struct {
    volatile int depth;                 /* protected calls into Lua in progress */
    int in_host;                        /* host functions running within the innermost one */
    volatile unsigned long long calls;  /* outermost protected calls started so far */
    volatile unsigned long long armed;  /* the call to stop (0: none), set by the watchdog */
    volatile unsigned long long interrupted; /* the call a signal stops (0: none) */
    volatile int signal;                /* which signal (mona_guard.h MONA_SIG*), for the message */
    int timeout_s;                      /* [lua] handlerTimeout, for the message; 0: no watchdog */
    lua_State *main;                    /* the state, for the interrupt's same-thread hook */
#ifndef _WIN32
    unsigned long thread;               /* pthread_t of the thread running scripts (POSIX) */
#endif
} mona_scripts;

/* Makes the state allocate through a new heap from now on; blocks it already holds may be
 * freed through it as well. Returns the heap (NULL when out of memory: the state keeps its
 * allocator). Free the heap with mona_freeheap after lua_close. */
MONA_API mona_heap *mona_setalloc(lua_State *L);

/* The bytes Lua holds (the sizes Lua asked for, as lua_gc's count). */
MONA_API size_t mona_heapused(const mona_heap *heap);

/* Caps the bytes Lua may hold while script code runs ([lua] memoryLimit; 0: no cap). Past it
 * an allocation fails and Lua raises "not enough memory" in the script, after a full
 * collection has tried to make room. */
MONA_API void mona_setlimit(mona_heap *heap, size_t limit);

/* The state's heap, or NULL when its allocator is not mona_setalloc's. */
MONA_API mona_heap *mona_heapof(lua_State *L);

/* The heap's script bookkeeping (see mona_scripts). */
MONA_API mona_scripts *mona_scriptsof(mona_heap *heap);

/* Gives back what the heap keeps beyond what Lua holds: the blocks on its free lists go back to
 * malloc, and malloc returns its free pages to the system (glibc's malloc_trim; the process
 * heap's HeapCompact on Windows). For an idle loop (docs/architecture.md, "Memory upkeep"):
 * the lists refill as load comes back. Returns the bytes the lists held. */
MONA_API size_t mona_heap_trim(mona_heap *heap);

/* Frees the heap and the blocks on its lists; the state must be closed already. */
MONA_API void mona_freeheap(mona_heap *heap);

#endif
