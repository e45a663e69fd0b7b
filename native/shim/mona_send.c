/* See mona_send.h for the contract. */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L /* MSG_NOSIGNAL and ssize_t under -std=c11 */
#endif
#include "mona_send.h"

#include "mona_binding.h"

#ifdef _WIN32
#include <winsock2.h> /* before windows.h, which would bring the old winsock.h */
#include <limits.h>
#include <windows.h>
#else
#include <errno.h>
#include <sys/socket.h>
#endif

/* One send on the connection's socket, again when a signal interrupts it: the bytes the kernel
 * took, or -1 for anything else (would block, or an error), which the host function then
 * meets itself and handles. */
static long long send_once(int fd, const char *data, size_t length) {
#ifdef _WIN32
    /* Winsock: `fd` is the SOCKET handle, sign-extended back to its 64 bits (mona_handle). No
     * SIGPIPE to suppress on Windows (flags 0), a length that is an int (a longer string is a
     * short send, whose rest the host function queues) and the error in WSAGetLastError(), not
     * errno. WSAEWOULDBLOCK needs no case of its own: like EAGAIN, the host function queues. */
    int chunk = length > INT_MAX ? INT_MAX : (int)length;
    int sent;
    do
        sent = send((SOCKET)(INT_PTR)fd, data, chunk, 0);
    while (sent == SOCKET_ERROR && WSAGetLastError() == WSAEINTR);
    return sent == SOCKET_ERROR ? -1 : sent;
#else
    ssize_t sent;
    do
        sent = send(fd, data, length, MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    return sent;
#endif
}

/* What the closure checks and counts, in one block (its upvalue 3): read with one
 * lua_touserdata per send, where the tag as a Lua integer and the counter as a light userdata
 * cost a lua_tointeger and a second lua_touserdata (docs/performance.md, "Issue 19: CPU per
 * message"). `self` is the block's own address: a script can put any value in the upvalue
 * (debug.setupvalue; the debug library is open, docs/api.md), and another object's block
 * read as this one would give a counter address made of its bytes. */
typedef struct direct_target {
    const struct direct_target *self;
    long long *bytes_sent;
    int tag;
} direct_target;

/* Upvalues: 1 the host function, 2 its context, 3 the direct_target. The userdata at 1 is read
 * only when it is a full userdata of mona_handle's size: lua_touserdata is NULL for anything
 * but a userdata, and lua_rawlen is 0 for a light one. */
static int direct_send(lua_State *L) {
    mona_handle *self;
    if (lua_gettop(L) == 2 && lua_type(L, 2) == LUA_TSTRING && (self = lua_touserdata(L, 1)) != NULL
        && lua_rawlen(L, 1) == sizeof(mona_handle)) {
        /* Not ours only if a script replaced the upvalue: then no direct send. Its size first,
         * so that `self` is read only inside a block that has one. */
        const direct_target *target = lua_touserdata(L, lua_upvalueindex(3));
        if (target != NULL && lua_rawlen(L, lua_upvalueindex(3)) == sizeof(direct_target) && target->self == target
            && self->direct && self->type == target->tag) {
            size_t length;
            const char *data = lua_tolstring(L, 2, &length);
            long long sent = send_once(self->fd, data, length);
            if (sent > 0) {
                *target->bytes_sent += sent;
                self->sends++;
            }
            if (sent == (long long)length)
                return 0;
            if (sent > 0)
                self->partial = (int)sent; /* the host function queues the rest */
        }
    }
    return mona_trampoline(L); /* everything else: the host function, with its full checks */
}

void mona_pushdirectsend(lua_State *L, lua_CFunction fn, int tag, long long *bytes_sent) {
    lua_pushlightuserdata(L, (void *)fn);
    lua_insert(L, -2);
    direct_target *target = lua_newuserdatauv(L, sizeof(direct_target), 0);
    target->self = target; /* a full userdata's block does not move */
    target->tag = tag;
    target->bytes_sent = bytes_sent;
    lua_pushcclosure(L, direct_send, 3);
}
