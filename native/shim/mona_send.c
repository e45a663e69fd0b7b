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

/* Upvalues: 1 the host function, 2 its context, 3 the type's tag, 4 the bytes-sent counter. */
static int direct_send(lua_State *L) {
    if (lua_gettop(L) == 2 && lua_type(L, 1) == LUA_TUSERDATA && lua_type(L, 2) == LUA_TSTRING
        && lua_rawlen(L, 1) == sizeof(mona_handle)) {
        mona_handle *self = lua_touserdata(L, 1);
        if (self->direct && self->type == (int)lua_tointeger(L, lua_upvalueindex(3))) {
            size_t length;
            const char *data = lua_tolstring(L, 2, &length);
            long long sent = send_once(self->fd, data, length);
            if (sent > 0) {
                *(long long *)lua_touserdata(L, lua_upvalueindex(4)) += sent;
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
    lua_pushinteger(L, tag);
    lua_pushlightuserdata(L, bytes_sent);
    lua_pushcclosure(L, direct_send, 4);
}
