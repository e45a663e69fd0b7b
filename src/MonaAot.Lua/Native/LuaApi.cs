using System.Runtime.InteropServices;

namespace MonaAot.Lua.Native;

/// <summary>
/// The Lua C API functions that host functions call with the raw <c>lua_State*</c> they receive,
/// declared here so that no KeraLua wrapper object is needed (or allocated) on that path. Only
/// functions that cannot raise a Lua error on valid input belong here (a Lua error is a longjmp,
/// and one over a C# frame aborts the process: docs/architecture.md, "Rules for contributors"). C
/// names verbatim.
///
/// [SuppressGCTransition] marks the calls that are a few instructions long, never allocate in
/// Lua (so never run a Lua collection, whose __gc could call back into C#) and never block:
/// they skip the managed/native transition, which dominates their cost on the message path.
/// </summary>
public static unsafe partial class LuaApi
{
    public const int LUA_OK = 0;
    public const int LUA_MULTRET = -1;
    public const int LUA_REGISTRYINDEX = -1000000 - 1000;
    public const int LUA_RIDX_GLOBALS = 2;

    public const int LUA_TNONE = -1;
    public const int LUA_TNIL = 0;
    public const int LUA_TBOOLEAN = 1;
    public const int LUA_TLIGHTUSERDATA = 2;
    public const int LUA_TNUMBER = 3;
    public const int LUA_TSTRING = 4;
    public const int LUA_TTABLE = 5;
    public const int LUA_TFUNCTION = 6;
    public const int LUA_TUSERDATA = 7;
    public const int LUA_TTHREAD = 8;

    public static int lua_upvalueindex(int i) => LUA_REGISTRYINDEX - i;

    [LibraryImport(NativeLibraries.Shim), SuppressGCTransition] public static partial int lua_gettop(nint L);
    // lua_settop runs __close only for to-be-closed slots of a C function, which MonaAot never
    // creates (no lua_toclose), so it never calls back into C# here.
    [LibraryImport(NativeLibraries.Shim), SuppressGCTransition] public static partial void lua_settop(nint L, int index);
    [LibraryImport(NativeLibraries.Shim), SuppressGCTransition] public static partial int lua_absindex(nint L, int index);
    [LibraryImport(NativeLibraries.Shim), SuppressGCTransition] public static partial void lua_pushvalue(nint L, int index);
    [LibraryImport(NativeLibraries.Shim), SuppressGCTransition] public static partial void lua_rotate(nint L, int index, int n);
    [LibraryImport(NativeLibraries.Shim), SuppressGCTransition] public static partial int lua_type(nint L, int index);
    [LibraryImport(NativeLibraries.Shim)] public static partial byte* lua_typename(nint L, int type);
    [LibraryImport(NativeLibraries.Shim)] public static partial byte* lua_tolstring(nint L, int index, nuint* len);
    /// <summary>lua_tolstring for a value that is already a string: no conversion, so no
    /// allocation and no collection, hence no transition needed.</summary>
    [LibraryImport(NativeLibraries.Shim, EntryPoint = "lua_tolstring"), SuppressGCTransition] public static partial byte* lua_tolstring_of_string(nint L, int index, nuint* len);
    [LibraryImport(NativeLibraries.Shim), SuppressGCTransition] public static partial long lua_tointegerx(nint L, int index, int* isnum);
    [LibraryImport(NativeLibraries.Shim), SuppressGCTransition] public static partial double lua_tonumberx(nint L, int index, int* isnum);
    [LibraryImport(NativeLibraries.Shim), SuppressGCTransition] public static partial int lua_toboolean(nint L, int index);
    [LibraryImport(NativeLibraries.Shim), SuppressGCTransition] public static partial void* lua_touserdata(nint L, int index);
    [LibraryImport(NativeLibraries.Shim), SuppressGCTransition] public static partial void lua_pushnil(nint L);
    [LibraryImport(NativeLibraries.Shim), SuppressGCTransition] public static partial void lua_pushinteger(nint L, long n);
    [LibraryImport(NativeLibraries.Shim), SuppressGCTransition] public static partial void lua_pushnumber(nint L, double n);
    [LibraryImport(NativeLibraries.Shim), SuppressGCTransition] public static partial void lua_pushboolean(nint L, int b);
    [LibraryImport(NativeLibraries.Shim)] public static partial byte* lua_pushlstring(nint L, byte* s, nuint len);
    [LibraryImport(NativeLibraries.Shim), SuppressGCTransition] public static partial void lua_pushlightuserdata(nint L, void* p);
    [LibraryImport(NativeLibraries.Shim)] public static partial void lua_createtable(nint L, int narr, int nrec);
    [LibraryImport(NativeLibraries.Shim), SuppressGCTransition] public static partial int lua_rawget(nint L, int index);
    [LibraryImport(NativeLibraries.Shim), SuppressGCTransition] public static partial int lua_rawgeti(nint L, int index, long n);
    [LibraryImport(NativeLibraries.Shim)] public static partial void lua_rawset(nint L, int index);
    [LibraryImport(NativeLibraries.Shim), SuppressGCTransition] public static partial int lua_rawgetp(nint L, int index, void* p);
    [LibraryImport(NativeLibraries.Shim)] public static partial void lua_rawsetp(nint L, int index, void* p);
    [LibraryImport(NativeLibraries.Shim)] public static partial int lua_next(nint L, int index);
    [LibraryImport(NativeLibraries.Shim)] public static partial int lua_setmetatable(nint L, int index);
    [LibraryImport(NativeLibraries.Shim)] public static partial byte* lua_setupvalue(nint L, int funcindex, int n);

    public const int LUA_NOREF = -2;

    [LibraryImport(NativeLibraries.Shim)] public static partial void* lua_newuserdatauv(nint L, nuint size, int nuvalue);
    [LibraryImport(NativeLibraries.Shim), SuppressGCTransition] public static partial int lua_getiuservalue(nint L, int index, int n);
    [LibraryImport(NativeLibraries.Shim)] public static partial int lua_setiuservalue(nint L, int index, int n);
    [LibraryImport(NativeLibraries.Shim)] public static partial int lua_getmetatable(nint L, int index);
    [LibraryImport(NativeLibraries.Shim), SuppressGCTransition] public static partial int lua_rawequal(nint L, int index1, int index2);
    [LibraryImport(NativeLibraries.Shim), SuppressGCTransition] public static partial nuint lua_rawlen(nint L, int index);
    [LibraryImport(NativeLibraries.Shim)] public static partial int luaL_ref(nint L, int t);
    [LibraryImport(NativeLibraries.Shim)] public static partial void luaL_unref(nint L, int t, int reference);

    public static void lua_pop(nint L, int n) => lua_settop(L, -n - 1);

    public static void lua_insert(nint L, int index) => lua_rotate(L, index, 1);

    public static void lua_newtable(nint L) => lua_createtable(L, 0, 0);

    public static void lua_pushglobaltable(nint L) => lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);

    public static void lua_remove(nint L, int index)
    {
        lua_rotate(L, index, -1);
        lua_pop(L, 1);
    }
}
