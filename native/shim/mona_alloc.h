/* The allocator of MonaAot's Lua state: small blocks (message strings, table parts) recycled
 * on per-size free lists, the rest from malloc, and a count of the bytes Lua holds. */
#ifndef MONA_ALLOC_H
#define MONA_ALLOC_H

#include <lua.h>
#include <stddef.h>

typedef struct mona_heap mona_heap;

/* Makes the state allocate through a new heap from now on; blocks it already holds may be
 * freed through it as well. Returns the heap (NULL when out of memory: the state keeps its
 * allocator). Free the heap with mona_freeheap after lua_close. */
mona_heap *mona_setalloc(lua_State *L);

/* The bytes Lua holds (the sizes Lua asked for, as lua_gc's count). */
size_t mona_heapused(const mona_heap *heap);

/* Frees the heap and the blocks on its lists; the state must be closed already. */
void mona_freeheap(mona_heap *heap);

#endif
