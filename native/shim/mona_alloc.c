/* The Lua state's allocator: see mona_alloc.h. */
#ifndef _WIN32
#define _GNU_SOURCE /* malloc_usable_size */
#endif
#include "mona_alloc.h"
#include "mona_guard.h"

#include <stdlib.h>
#include <string.h>

/* Where Lua's blocks come from: the heap of the allocator the state had before mona_setalloc,
 * because the blocks made then are freed and resized here too. On Linux that is glibc's
 * malloc, shared by everything in the process. On Windows each C runtime may keep a heap of
 * its own: the test build's lua54.dll (KeraLua's, MSVC-built) carries a static UCRT, while this
 * DLL (MinGW) calls msvcrt.dll, another runtime, whose free and _msize are not promised to know
 * the UCRT's blocks. The UCRT's malloc, realloc, free and _msize are HeapAlloc, HeapReAlloc,
 * HeapFree and HeapSize on the process heap (for a static UCRT too, and for an MSVC build of
 * this file), so on Windows the blocks go to and come from that heap directly. */
#ifdef _WIN32
#include <windows.h>
static void *block_alloc(size_t size) { return HeapAlloc(GetProcessHeap(), 0, size); }
static void *block_resize(void *ptr, size_t size) { return HeapReAlloc(GetProcessHeap(), 0, ptr, size); }
static void block_free(void *ptr) { HeapFree(GetProcessHeap(), 0, ptr); }
static void system_trim(void) { HeapCompact(GetProcessHeap(), 0); }
/* The size asked for at allocation: what HeapAlloc guarantees, as malloc_usable_size does. */
static size_t block_size(void *ptr) { return HeapSize(GetProcessHeap(), 0, ptr); }
#else
#include <malloc.h>
#define block_alloc malloc
#define block_resize realloc
#define block_free free
#define block_size malloc_usable_size
/* glibc keeps freed memory in its arenas (the top of each heap beyond M_TRIM_THRESHOLD only);
 * malloc_trim(0) returns every free whole page of every arena, with madvise. */
static void system_trim(void) { malloc_trim(0); }
#endif

/* Blocks up to SMALL_MAX bytes are kept on per-size free lists in steps of GRAIN bytes: list c
 * holds blocks of at least c * GRAIN usable bytes. A 64-byte message string is a 89-byte block;
 * Lua makes and frees one per message, and glibc's malloc spends more on that (tcache refills,
 * fastbin consolidation after each GC sweep) than a list pop and push. Up to 1 KiB, so that a
 * 512-byte datagram (a 537-byte block) is on a list too: through malloc and free it cost about
 * 360 instructions per datagram (docs/performance.md, "Issue 19: CPU per message"). */
#define GRAIN 16
#define SMALL_MAX 1024
#define CLASSES (SMALL_MAX / GRAIN + 1)
/* What the lists may keep in all; beyond it freed blocks go back to malloc. */
#define CACHE_MAX (1 << 20)

typedef struct Block {
    struct Block *next;
} Block;

struct mona_heap {
    Block *free[CLASSES];
    size_t cached; /* bytes on the lists, c * GRAIN for a block on list c */
    size_t used;   /* bytes Lua holds, as Lua counts them */
    size_t limit;  /* 0: none */
    mona_scripts scripts;
};

/* A block freed by Lua: onto the list its usable size allows, whoever allocated it (blocks
 * made before mona_setalloc came from plain malloc, with sizes that are not multiples of
 * GRAIN, which is why the list is chosen by block_size and not by Lua's size). */
static void release(mona_heap *heap, void *ptr) {
    size_t usable = block_size(ptr);
    /* Not kept: blocks too small for a list, blocks much larger than any list's (a
     * pre-switch block, say), and anything past the cache's size. */
    if (usable < GRAIN || usable > SMALL_MAX + GRAIN || heap->cached + usable > CACHE_MAX) {
        block_free(ptr);
        return;
    }
    size_t c = (usable > SMALL_MAX ? SMALL_MAX : usable) / GRAIN;
    Block *block = ptr;
    block->next = heap->free[c];
    heap->free[c] = block;
    heap->cached += c * GRAIN; /* counted by its list, so that take needs no block_size */
}

static void *take(mona_heap *heap, size_t size) {
    if (size > SMALL_MAX)
        return block_alloc(size);
    size_t c = (size + GRAIN - 1) / GRAIN;
    Block *block = heap->free[c];
    if (block == NULL)
        return block_alloc(c * GRAIN);
    heap->free[c] = block->next;
    heap->cached -= c * GRAIN;
    return block;
}

static void *mona_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    mona_heap *heap = ud;
    if (ptr == NULL)
        osize = 0; /* Lua passes the kind of object being made, not a size */
    if (nsize == 0) {
        if (ptr != NULL) {
            heap->used -= osize;
            if (osize <= SMALL_MAX)
                release(heap, ptr);
            else
                block_free(ptr);
        }
        return NULL;
    }
    /* The limit holds while script code runs, not while a host function does: a failed
     * allocation there would raise through C# frames (mona_scripts). */
    if (nsize > osize && heap->limit != 0 && heap->scripts.depth > 0 && heap->scripts.in_host == 0
        && heap->used + (nsize - osize) > heap->limit)
        return NULL;
    void *block;
    if (ptr == NULL) {
        block = take(heap, nsize);
    } else if (osize > SMALL_MAX && nsize > SMALL_MAX) {
        block = block_resize(ptr, nsize);
    } else if (osize <= SMALL_MAX && nsize <= block_size(ptr)) {
        block = ptr; /* a small block that still fits */
    } else {
        /* Small to large, small past its block, or large to small (a large block is not kept
         * for a small size: it would hold memory Lua no longer counts). */
        block = take(heap, nsize);
        if (block != NULL) {
            memcpy(block, ptr, osize < nsize ? osize : nsize);
            if (osize <= SMALL_MAX)
                release(heap, ptr);
            else
                block_free(ptr);
        } else if (nsize <= osize) {
            block = ptr; /* Lua counts on a shrink never failing: keep the larger block */
        }
    }
    if (block != NULL)
        heap->used += nsize - osize;
    return block;
}

/* glibc gives the top of its heap back to the kernel as soon as more than M_TRIM_THRESHOLD of
 * it is free (128 KiB at first, raised as large blocks come and go). Lua frees the strings of a
 * stream (up to a 120 KiB read each) in bursts as its collector sweeps, so the top kept shrinking
 * and growing again: each regrowth is fresh pages, zeroed and faulted in one by one, about 5% of
 * a streaming server's CPU (perf: exc_page_fault, clear_page, __free_frozen_pages). Keeping up
 * to KEEP_FREE at the top removes that; what is kept goes back when the loop is idle
 * (malloc_trim). Blocks from MMAP_FROM on are mapped on their own and unmapped when freed, as
 * before (setting either value fixes both: no more dynamic thresholds). */
#ifdef __GLIBC__
#define KEEP_FREE (8 << 20)
#define MMAP_FROM (1 << 20)
#endif

mona_heap *mona_setalloc(lua_State *L) {
    mona_heap *heap = calloc(1, sizeof *heap);
    if (heap == NULL)
        return NULL;
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, MMAP_FROM);
    mallopt(M_TRIM_THRESHOLD, KEEP_FREE);
#endif
    /* What the state already holds, so that the count stays right as those blocks go. */
    heap->used = (size_t)lua_gc(L, LUA_GCCOUNT) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB);
    lua_setallocf(L, mona_alloc, heap);
    return heap;
}

size_t mona_heapused(const mona_heap *heap) { return heap->used; }

void mona_setlimit(mona_heap *heap, size_t limit) { heap->limit = limit; }

mona_heap *mona_heapof(lua_State *L) {
    void *ud;
    return lua_getallocf(L, &ud) == mona_alloc ? ud : NULL;
}

mona_scripts *mona_scriptsof(mona_heap *heap) { return &heap->scripts; }

/* Declared in mona_guard.h, whose protected calls ask for it each time. */
mona_scripts *mona_scriptsofstate(lua_State *L) {
    void *ud;
    return lua_getallocf(L, &ud) == mona_alloc ? &((mona_heap *)ud)->scripts : NULL;
}

/* Every block on the lists back to malloc. */
static void flush(mona_heap *heap) {
    for (size_t c = 0; c < CLASSES; c++) {
        while (heap->free[c] != NULL) {
            Block *block = heap->free[c];
            heap->free[c] = block->next;
            block_free(block);
        }
    }
    heap->cached = 0;
}

size_t mona_heap_trim(mona_heap *heap) {
    size_t cached = heap->cached;
    flush(heap);
    system_trim();
    return cached;
}

void mona_freeheap(mona_heap *heap) {
    if (heap == NULL)
        return;
    flush(heap);
    free(heap);
}
