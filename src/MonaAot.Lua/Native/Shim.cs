using System.Runtime.InteropServices;

namespace MonaAot.Lua.Native;

/// <summary>native/shim/mona_binding.h, mona_send.h, mona_file.h, mona_probe.h, mona_alloc.h,
/// mona_guard.h, mona_cmodules.h, mona_warn.h, mona_hash.h, mona_codec.h and mona_json.h, C names verbatim.</summary>
public static unsafe partial class Shim
{
    /// <summary>A host function returns this to have the value on top of the stack raised.</summary>
    public const int MONA_RAISE = -1;

    [LibraryImport(NativeLibraries.Shim)]
    public static partial void mona_pushhostfunction(nint L, delegate* unmanaged<nint, int> fn, int n);

    [LibraryImport(NativeLibraries.Shim)]
    public static partial void mona_pushdirectsend(nint L, delegate* unmanaged<nint, int> fn, int tag, long* bytesSent);

    [LibraryImport(NativeLibraries.Shim)]
    public static partial int mona_pcall(nint L, int nargs, int nresults);

    [LibraryImport(NativeLibraries.Shim)]
    public static partial int mona_logtext(nint L, int n);

    [LibraryImport(NativeLibraries.Shim)]
    public static partial int mona_pgetfield(nint L, int index, byte* name, int raw);

    [LibraryImport(NativeLibraries.Shim)]
    public static partial int mona_where(nint L, int level, byte** source, int* line);

    [LibraryImport(NativeLibraries.Shim)]
    public static partial int mona_callerowner(nint L, int owners);

    [LibraryImport(NativeLibraries.Shim)]
    public static partial int mona_definedat(nint L, int index, byte** source, int* line);

    [LibraryImport(NativeLibraries.Shim)]
    public static partial int mona_pushevent(nint L, int reference, byte* name);

    [LibraryImport(NativeLibraries.Shim)]
    public static partial int mona_reception(nint L, int reference, int name, byte* data, nuint length, double* rest);

    [LibraryImport(NativeLibraries.Shim)]
    public static partial int mona_datagram(nint L, int reference, int name, byte* data, nuint length, int sender);

    [LibraryImport(NativeLibraries.Shim)]
    public static partial int mona_calltimer(nint L, int reference, long elapsed, double* next);

    [LibraryImport(NativeLibraries.Shim)]
    public static partial void mona_pushindex(nint L);

    [LibraryImport(NativeLibraries.Shim), SuppressGCTransition]
    public static partial void* mona_touserdata(nint L, int index, nuint size);

    [LibraryImport(NativeLibraries.Shim)]
    public static partial int mona_stat(byte* path, long* mtimeNs, long* size);

    [LibraryImport(NativeLibraries.Shim)]
    public static partial void* mona_setalloc(nint L);

    [LibraryImport(NativeLibraries.Shim), SuppressGCTransition]
    public static partial nuint mona_heapused(void* heap);

    [LibraryImport(NativeLibraries.Shim)]
    public static partial void mona_freeheap(void* heap);

    /// <summary>mona_alloc.h: the free lists back to malloc, malloc's free pages to the system.</summary>
    [LibraryImport(NativeLibraries.Shim)]
    public static partial nuint mona_heap_trim(void* heap);

    /// <summary>mona_gc.h: collector work as if <paramref name="kb"/> KiB had been allocated
    /// (finalizers may run: not from inside a callback that iterates objects).</summary>
    [LibraryImport(NativeLibraries.Shim)]
    public static partial int mona_gcstep(nint L, int kb);

    /// <summary>mona_gc.h: a full collection.</summary>
    [LibraryImport(NativeLibraries.Shim)]
    public static partial void mona_gccollect(nint L);

    [LibraryImport(NativeLibraries.Shim), SuppressGCTransition]
    public static partial void mona_setlimit(void* heap, nuint limit);

    [LibraryImport(NativeLibraries.Shim)]
    public static partial void mona_guard_install(nint L, int timeoutSeconds);

    public const int MONA_SIGINT = 1;
    public const int MONA_SIGTERM = 2;

    [LibraryImport(NativeLibraries.Shim)]
    public static partial int mona_guard_interrupt(nint L, int signal);

    [LibraryImport(NativeLibraries.Shim)]
    public static partial int mona_watchdog_tick(nint L, ulong* seen, int* ticks, int limit);

    [LibraryImport(NativeLibraries.Shim)]
    public static partial int mona_cmodules_refuse(nint L);

    public const int MONA_WARN_SCRIPT = 0;
    public const int MONA_WARN_GC = 1;

    /// <summary>mona_warn.h: the state's warning function, handing each complete warning to
    /// <paramref name="sink"/> (context, text, length, kind).</summary>
    [LibraryImport(NativeLibraries.Shim)]
    public static partial void* mona_setwarn(nint L, delegate* unmanaged<nint, byte*, nuint, int, void> sink, nint context);

    [LibraryImport(NativeLibraries.Shim)]
    public static partial void mona_freewarn(void* warn);

    [LibraryImport(NativeLibraries.Shim)]
    public static partial void mona_json_install(nint L);

    /// <summary>mona_layout of mona_probe.h: one answer of the C compiler on a shared layout.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct mona_layout
    {
        public byte* name;
        public long value;
    }

    [LibraryImport(NativeLibraries.Shim)]
    public static partial int mona_layouts(mona_layout** table);

    public const int MONA_MD5 = 0;
    public const int MONA_SHA1 = 1;
    public const int MONA_SHA256 = 2;
    public const int MONA_SHA512 = 3;

    /// <summary>The largest digest mona_hash and mona_hmac write (SHA-512's).</summary>
    public const int MONA_HASH_MAX = 64;

    [LibraryImport(NativeLibraries.Shim)]
    public static partial int mona_hash(int algorithm, byte* data, nuint length, byte* digest);

    [LibraryImport(NativeLibraries.Shim)]
    public static partial int mona_hmac(int algorithm, byte* key, nuint keyLength, byte* data, nuint length, byte* digest);

    [LibraryImport(NativeLibraries.Shim)]
    public static partial void mona_hash_portable(int portable);

    [LibraryImport(NativeLibraries.Shim)]
    public static partial nuint mona_base64_encode(byte* data, nuint length, byte* output);

    [LibraryImport(NativeLibraries.Shim)]
    public static partial long mona_base64_decode(byte* text, nuint length, byte* output, nuint* position);

    [LibraryImport(NativeLibraries.Shim)]
    public static partial void mona_hex_encode(byte* data, nuint length, byte* output);
}
