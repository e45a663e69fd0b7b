/* The file probe of the www scanner: a file's version (modification time and size) read
 * without allocating, on Linux and Windows alike. */
#ifndef MONA_FILE_H
#define MONA_FILE_H

#include "mona_api.h"

/* The version of a file or folder without allocating anything on either side: modification
 * time in nanoseconds and size. Returns 1 for a folder, 0 for another file, -1 if it is
 * missing. Lets the www watcher check its files every 2 seconds at no cost. `path` is UTF-8 on
 * every OS. */
MONA_API int mona_stat(const char *path, long long *mtime_ns, long long *size);

#endif
