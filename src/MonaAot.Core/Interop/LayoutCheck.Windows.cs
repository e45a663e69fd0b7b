namespace MonaAot.Interop;

/// <summary>The Windows build shares no kernel struct whose layout the shim can probe (its
/// Winsock and IOCP structs have one layout on x64); only the binding's facts are checked.</summary>
public static partial class LayoutCheck
{
}
