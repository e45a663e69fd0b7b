/* See mona_probe.h for the contract. The names are the ones MonaAot.Interop.LayoutCheck and
 * MonaAot.Lua.Runtime.NativeLayouts give to the C# side: a name on one side only is a mismatch. */
/* struct mmsghdr and struct ip_mreqn are GNU extensions, hidden by -std=c11 without this. */
#ifndef _WIN32
#define _GNU_SOURCE
#endif
#include "mona_probe.h"

#include "mona_binding.h"

#include <stddef.h>

#ifndef _WIN32
#include <net/if.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#endif

#define SIZE(type, name) { name, (long long)sizeof(type) }
#define OFFSET(type, name, field) { name "." #field, (long long)offsetof(type, field) }

static const mona_layout layouts[] = {
    SIZE(mona_handle, "mona_handle"),
    OFFSET(mona_handle, "mona_handle", fd),
    OFFSET(mona_handle, "mona_handle", sends),
    { "LUA_REGISTRYINDEX", LUA_REGISTRYINDEX },
#ifndef _WIN32
    SIZE(struct epoll_event, "epoll_event"),
    OFFSET(struct epoll_event, "epoll_event", data),
    SIZE(struct iovec, "iovec"),
    OFFSET(struct iovec, "iovec", iov_len),
    SIZE(struct msghdr, "msghdr"),
    OFFSET(struct msghdr, "msghdr", msg_namelen),
    OFFSET(struct msghdr, "msghdr", msg_iov),
    OFFSET(struct msghdr, "msghdr", msg_iovlen),
    OFFSET(struct msghdr, "msghdr", msg_control),
    OFFSET(struct msghdr, "msghdr", msg_controllen),
    OFFSET(struct msghdr, "msghdr", msg_flags),
    SIZE(struct mmsghdr, "mmsghdr"),
    OFFSET(struct mmsghdr, "mmsghdr", msg_len),
    SIZE(struct sockaddr_in, "sockaddr_in"),
    OFFSET(struct sockaddr_in, "sockaddr_in", sin_port),
    OFFSET(struct sockaddr_in, "sockaddr_in", sin_addr),
    SIZE(struct sockaddr_in6, "sockaddr_in6"),
    OFFSET(struct sockaddr_in6, "sockaddr_in6", sin6_port),
    OFFSET(struct sockaddr_in6, "sockaddr_in6", sin6_flowinfo),
    OFFSET(struct sockaddr_in6, "sockaddr_in6", sin6_addr),
    OFFSET(struct sockaddr_in6, "sockaddr_in6", sin6_scope_id),
    SIZE(struct sockaddr_un, "sockaddr_un"),
    OFFSET(struct sockaddr_un, "sockaddr_un", sun_path),
    SIZE(struct rlimit, "rlimit"),
    OFFSET(struct rlimit, "rlimit", rlim_max),
    SIZE(struct linger, "linger"),
    OFFSET(struct linger, "linger", l_linger),
    SIZE(struct ip_mreqn, "ip_mreqn"),
    OFFSET(struct ip_mreqn, "ip_mreqn", imr_ifindex),
    SIZE(struct ipv6_mreq, "ipv6_mreq"),
    OFFSET(struct ipv6_mreq, "ipv6_mreq", ipv6mr_interface),
#endif
};

int mona_layouts(const mona_layout **table) {
    *table = layouts;
    return (int)(sizeof layouts / sizeof layouts[0]);
}
