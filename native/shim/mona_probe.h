/* Layout probes: the C compiler's answer, checked by the tests against the C# structs that
 * mirror a C one (mona_handle of mona_binding.h as ScriptType.Handle, the kernel's
 * struct epoll_event). The epoll ones answer -1 on Windows, which has no epoll. */
#ifndef MONA_PROBE_H
#define MONA_PROBE_H

#include "mona_api.h"

MONA_API int mona_sizeof_epoll_event(void);
MONA_API int mona_sizeof_handle(void);
MONA_API int mona_offsetof_handle_sends(void);
MONA_API int mona_offsetof_epoll_event_data(void);

#endif
