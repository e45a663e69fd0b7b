/* MONA_API marks every function the shim's headers declare: the C# side imports them
 * (src/MonaAot.Lua/Native/Shim.cs). Only the Windows DLL (make windows, which defines
 * MONA_BUILD_DLL) needs the mark: a DLL exports nothing unless told, and GNU ld then exports
 * exactly these, besides the Lua API it forwards to lua54.dll. Elsewhere it is empty: the Linux
 * .so exports every global symbol, and the static archives are linked into the AOT binary. */
#ifndef MONA_API_H
#define MONA_API_H

#if defined(_WIN32) && defined(MONA_BUILD_DLL)
#define MONA_API __declspec(dllexport)
#else
#define MONA_API
#endif

/* MONA_INTERNAL marks a function one shim file shares with another and C# does not import: kept
 * out of the Linux .so's exports (hidden), as the DLL keeps everything unmarked, so that the
 * exported names are exactly the MONA_API ones on every platform. */
#if defined(__GNUC__) && !defined(_WIN32)
#define MONA_INTERNAL __attribute__((visibility("hidden")))
#else
#define MONA_INTERNAL
#endif

#endif
