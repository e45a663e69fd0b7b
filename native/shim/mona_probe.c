/* See mona_probe.h for the contract. */
#include "mona_probe.h"

#include "mona_binding.h"

#include <stddef.h>

#ifndef _WIN32
#include <sys/epoll.h>
#endif

int mona_sizeof_handle(void) { return (int)sizeof(mona_handle); }
int mona_offsetof_handle_sends(void) { return (int)offsetof(mona_handle, sends); }
#ifdef _WIN32
/* No epoll on Windows: kept so that the DLL exports what Shim.cs declares, answering -1. */
int mona_sizeof_epoll_event(void) { return -1; }
int mona_offsetof_epoll_event_data(void) { return -1; }
#else
int mona_sizeof_epoll_event(void) { return (int)sizeof(struct epoll_event); }
int mona_offsetof_epoll_event_data(void) { return (int)offsetof(struct epoll_event, data); }
#endif
