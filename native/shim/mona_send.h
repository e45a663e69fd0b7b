/* TCPClient's direct send: send(data) written to the socket from C, without crossing into C#,
 * while the connection has nothing queued. The userdata block it reads and writes (fd, direct,
 * partial, sends: the connection's direct-write gate) is mona_handle in mona_binding.h; the C#
 * connection keeps `direct` true only while a send from C is safe. *bytes_sent is the sockets
 * layer's native bytes-sent cell (NetStats.BytesSentCell). */
#ifndef MONA_SEND_H
#define MONA_SEND_H

#include <lua.h>

#include "mona_api.h"

/* Pushes TCPClient's send: with the context (upvalue 2 of host functions) on top of the stack,
 * pops it and pushes a closure that sends a string directly when the userdata at 1 carries
 * `tag` as its type and is direct, adding the bytes to *bytes_sent, and otherwise (a short or
 * failed send, anything unusual) calls host function `fn` as the trampoline does. */
MONA_API void mona_pushdirectsend(lua_State *L, lua_CFunction fn, int tag, long long *bytes_sent);

#endif
