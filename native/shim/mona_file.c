/* See mona_file.h for the contract. */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L /* st_mtim under -std=c11 */
#endif
#include "mona_file.h"

#ifdef _WIN32
#include <stdlib.h>
#include <windows.h>
#else
#include <sys/stat.h>
#endif

#ifdef _WIN32
/* Windows: the UTF-8 path becomes UTF-16 (the CRT's narrow stat would read it in the ANSI code
 * page), on the stack unless it is very long. GetFileAttributesExW rather than _wstat64: its
 * write time comes in 100 ns steps where _wstat64 has whole seconds, in which two saves of the
 * same size would look alike to the www watcher. Unlike stat, it describes a symbolic link
 * itself, not its target. */
int mona_stat(const char *path, long long *mtime_ns, long long *size) {
    wchar_t stack[1024];
    wchar_t *wide = stack;
    int length = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, NULL, 0);
    if (length <= 0)
        return -1;
    if (length > (int)(sizeof stack / sizeof stack[0])) {
        wide = malloc((size_t)length * sizeof *wide);
        if (wide == NULL)
            return -1;
    }
    WIN32_FILE_ATTRIBUTE_DATA data;
    BOOL found = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, wide, length) > 0
                 && GetFileAttributesExW(wide, GetFileExInfoStandard, &data);
    if (wide != stack)
        free(wide);
    if (!found)
        return -1;
    /* FILETIME: 100 ns ticks since 1601-01-01; 11644473600 s separate it from 1970-01-01. */
    long long ticks = (long long)(((unsigned long long)data.ftLastWriteTime.dwHighDateTime << 32)
                                  | data.ftLastWriteTime.dwLowDateTime);
    *mtime_ns = (ticks - 116444736000000000LL) * 100;
    *size = (long long)(((unsigned long long)data.nFileSizeHigh << 32) | data.nFileSizeLow);
    return (data.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) ? 1 : 0;
}
#else
int mona_stat(const char *path, long long *mtime_ns, long long *size) {
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    *mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    *size = (long long)st.st_size;
    return S_ISDIR(st.st_mode) ? 1 : 0;
}
#endif
