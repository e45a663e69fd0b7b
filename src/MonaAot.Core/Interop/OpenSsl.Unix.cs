using System;
using System.Runtime.InteropServices;

namespace MonaAot.Interop;

/// <summary>
/// OpenSSL 3 (Debian's libssl3), bound at first use: <see cref="TryLoad"/> opens libssl.so.3
/// and libcrypto.so.3 with <see cref="NativeLibrary.Load(string)"/> and resolves each function
/// into an unmanaged function pointer. Nothing here is linked, so the binary keeps no
/// dependency on libssl until a TLS socket is made (docs/architecture.md, "TLS engine").
/// C names verbatim; only what Net/Tls/ calls. Several of OpenSSL's documented calls are
/// macros over <c>SSL_CTX_ctrl</c>/<c>SSL_ctrl</c>; those are the small wrappers at the end,
/// with the control numbers of OpenSSL 3's ssl.h.
/// </summary>
internal static unsafe class OpenSsl
{
    public const string SslLibrary = "libssl.so.3";
    public const string CryptoLibrary = "libcrypto.so.3";

    // ssl.h / tls1.h / x509_vfy.h constants (OpenSSL 3.0 ABI).
    public const int TLS1_2_VERSION = 0x0303;
    public const int TLS1_3_VERSION = 0x0304;
    public const int SSL_FILETYPE_PEM = 1;
    public const int SSL_VERIFY_NONE = 0;
    public const int SSL_VERIFY_PEER = 1;
    public const int SSL_VERIFY_FAIL_IF_NO_PEER_CERT = 2;
    public const int SSL_ERROR_NONE = 0;
    public const int SSL_ERROR_SSL = 1;
    public const int SSL_ERROR_WANT_READ = 2;
    public const int SSL_ERROR_WANT_WRITE = 3;
    public const int SSL_ERROR_SYSCALL = 5;
    public const int SSL_ERROR_ZERO_RETURN = 6;
    public const int SSL_TLSEXT_ERR_OK = 0;
    public const int SSL_TLSEXT_ERR_NOACK = 3;
    public const int OPENSSL_NPN_NEGOTIATED = 1;
    public const int TLSEXT_NAMETYPE_host_name = 0;
    public const long SSL_MODE_RELEASE_BUFFERS = 0x10;
    public const ulong SSL_OP_NO_RENEGOTIATION = 1UL << 30;

    private const int SSL_CTRL_SET_TLSEXT_HOSTNAME = 55;
    private const int SSL_CTRL_MODE = 33;
    private const int SSL_CTRL_SET_MIN_PROTO_VERSION = 123;
    private const int SSL_CTRL_SET_MAX_PROTO_VERSION = 124;

    // x509_vfy.h verification results the failure texts name.
    public const int X509_V_OK = 0;
    public const int X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT = 2;
    public const int X509_V_ERR_CERT_NOT_YET_VALID = 9;
    public const int X509_V_ERR_CERT_HAS_EXPIRED = 10;
    public const int X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT = 18;
    public const int X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN = 19;
    public const int X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20;
    public const int X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE = 21;
    public const int X509_V_ERR_CERT_UNTRUSTED = 27;
    public const int X509_V_ERR_CERT_REJECTED = 28;
    public const int X509_V_ERR_HOSTNAME_MISMATCH = 62;
    public const int X509_V_ERR_IP_ADDRESS_MISMATCH = 64;

    // sslerr.h reasons (ERR_GET_REASON: the low 23 bits of an error code in OpenSSL 3).
    public const int ERR_REASON_MASK = 0x7FFFFF;
    public const int SSL_R_CERTIFICATE_VERIFY_FAILED = 134;
    public const int SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE = 199;
    public const int SSL_AD_REASON_OFFSET = 1000; // reasons 1000+n are alert n received from the peer

    private static readonly object Gate = new();
    private static volatile bool _loaded;
    private static string? _loadError;

    // libssl
    public static delegate* unmanaged<nint> TLS_method;
    public static delegate* unmanaged<nint, nint> SSL_CTX_new;
    public static delegate* unmanaged<nint, void> SSL_CTX_free;
    public static delegate* unmanaged<nint, int, nint, nint, nint> SSL_CTX_ctrl;
    public static delegate* unmanaged<nint, ulong, ulong> SSL_CTX_set_options;
    public static delegate* unmanaged<nint, byte*, int> SSL_CTX_use_certificate_chain_file;
    public static delegate* unmanaged<nint, byte*, int, int> SSL_CTX_use_PrivateKey_file;
    public static delegate* unmanaged<nint, int> SSL_CTX_check_private_key;
    public static delegate* unmanaged<nint, delegate* unmanaged<byte*, int, int, void*, int>, void> SSL_CTX_set_default_passwd_cb;
    public static delegate* unmanaged<nint, byte*, byte*, int> SSL_CTX_load_verify_locations;
    public static delegate* unmanaged<nint, int> SSL_CTX_set_default_verify_paths;
    public static delegate* unmanaged<nint, int, nint, void> SSL_CTX_set_verify;
    public static delegate* unmanaged<byte*, nint> SSL_load_client_CA_file;
    public static delegate* unmanaged<nint, nint, void> SSL_CTX_set_client_CA_list;
    public static delegate* unmanaged<nint, byte*, uint, int> SSL_CTX_set_session_id_context;
    public static delegate* unmanaged<nint, byte*, uint, int> SSL_CTX_set_alpn_protos;
    public static delegate* unmanaged<nint, nint, nint, void> SSL_CTX_set_alpn_select_cb;
    public static delegate* unmanaged<byte**, byte*, byte*, uint, byte*, uint, int> SSL_select_next_proto;
    public static delegate* unmanaged<nint, nint> SSL_new;
    public static delegate* unmanaged<nint, void> SSL_free;
    public static delegate* unmanaged<nint, nint, nint, void> SSL_set_bio;
    public static delegate* unmanaged<nint, void> SSL_set_connect_state;
    public static delegate* unmanaged<nint, void> SSL_set_accept_state;
    public static delegate* unmanaged<nint, int> SSL_do_handshake;
    public static delegate* unmanaged<nint, int> SSL_is_init_finished;
    public static delegate* unmanaged<nint, void*, int, int> SSL_read;
    public static delegate* unmanaged<nint, void*, int, int> SSL_write;
    public static delegate* unmanaged<nint, int, int> SSL_get_error;
    public static delegate* unmanaged<nint, int> SSL_shutdown;
    public static delegate* unmanaged<nint, int, nint, nint, nint> SSL_ctrl;
    public static delegate* unmanaged<nint, byte*, int> SSL_set1_host;
    public static delegate* unmanaged<nint, byte**, uint*, void> SSL_get0_alpn_selected;
    public static delegate* unmanaged<nint, byte*> SSL_get_version;
    public static delegate* unmanaged<nint, nint> SSL_get1_peer_certificate;
    public static delegate* unmanaged<nint, nint> SSL_get_verify_result;
    public static delegate* unmanaged<nint, nint> SSL_get0_param;

    // libcrypto
    public static delegate* unmanaged<nint> BIO_s_mem;
    public static delegate* unmanaged<nint, nint> BIO_new;
    public static delegate* unmanaged<nint, void*, int, int> BIO_read;
    public static delegate* unmanaged<nint, void*, int, int> BIO_write;
    public static delegate* unmanaged<nint, nuint> BIO_ctrl_pending;
    public static delegate* unmanaged<nint, nint> X509_get_subject_name;
    public static delegate* unmanaged<nint, byte*, int, byte*> X509_NAME_oneline;
    public static delegate* unmanaged<nint, void> X509_free;
    public static delegate* unmanaged<nint, byte*> X509_verify_cert_error_string;
    public static delegate* unmanaged<nuint> ERR_get_error;
    public static delegate* unmanaged<nuint, byte*, nuint, void> ERR_error_string_n;
    public static delegate* unmanaged<nuint, byte*> ERR_reason_error_string;
    public static delegate* unmanaged<void> ERR_clear_error;
    public static delegate* unmanaged<nint, byte*, int> X509_VERIFY_PARAM_set1_ip_asc;

    /// <summary>
    /// Loads the libraries and resolves every function, once (any thread); later calls return
    /// the first outcome. False with a one-line <paramref name="error"/> when the system has no
    /// OpenSSL 3 or it lacks a function.
    /// </summary>
    public static bool TryLoad(out string? error)
    {
        if (!_loaded)
        {
            lock (Gate)
            {
                if (!_loaded)
                {
                    _loadError = Load();
                    _loaded = true;
                }
            }
        }
        error = _loadError;
        return error == null;
    }

    private static string? Load()
    {
        // libcrypto first: libssl needs it anyway, and the BIO, X509 and ERR calls live there.
        if (!NativeLibrary.TryLoad(CryptoLibrary, out nint crypto) || !NativeLibrary.TryLoad(SslLibrary, out nint ssl))
            return $"TLS is not available: {SslLibrary} could not be loaded (install OpenSSL 3, Debian's libssl3)";
        string? missing = null;
        nint S(string name) => Export(ssl, name, ref missing);
        nint C(string name) => Export(crypto, name, ref missing);

        TLS_method = (delegate* unmanaged<nint>)S("TLS_method");
        SSL_CTX_new = (delegate* unmanaged<nint, nint>)S("SSL_CTX_new");
        SSL_CTX_free = (delegate* unmanaged<nint, void>)S("SSL_CTX_free");
        SSL_CTX_ctrl = (delegate* unmanaged<nint, int, nint, nint, nint>)S("SSL_CTX_ctrl");
        SSL_CTX_set_options = (delegate* unmanaged<nint, ulong, ulong>)S("SSL_CTX_set_options");
        SSL_CTX_use_certificate_chain_file = (delegate* unmanaged<nint, byte*, int>)S("SSL_CTX_use_certificate_chain_file");
        SSL_CTX_use_PrivateKey_file = (delegate* unmanaged<nint, byte*, int, int>)S("SSL_CTX_use_PrivateKey_file");
        SSL_CTX_check_private_key = (delegate* unmanaged<nint, int>)S("SSL_CTX_check_private_key");
        SSL_CTX_set_default_passwd_cb = (delegate* unmanaged<nint, delegate* unmanaged<byte*, int, int, void*, int>, void>)S("SSL_CTX_set_default_passwd_cb");
        SSL_CTX_load_verify_locations = (delegate* unmanaged<nint, byte*, byte*, int>)S("SSL_CTX_load_verify_locations");
        SSL_CTX_set_default_verify_paths = (delegate* unmanaged<nint, int>)S("SSL_CTX_set_default_verify_paths");
        SSL_CTX_set_verify = (delegate* unmanaged<nint, int, nint, void>)S("SSL_CTX_set_verify");
        SSL_load_client_CA_file = (delegate* unmanaged<byte*, nint>)S("SSL_load_client_CA_file");
        SSL_CTX_set_client_CA_list = (delegate* unmanaged<nint, nint, void>)S("SSL_CTX_set_client_CA_list");
        SSL_CTX_set_session_id_context = (delegate* unmanaged<nint, byte*, uint, int>)S("SSL_CTX_set_session_id_context");
        SSL_CTX_set_alpn_protos = (delegate* unmanaged<nint, byte*, uint, int>)S("SSL_CTX_set_alpn_protos");
        SSL_CTX_set_alpn_select_cb = (delegate* unmanaged<nint, nint, nint, void>)S("SSL_CTX_set_alpn_select_cb");
        SSL_select_next_proto = (delegate* unmanaged<byte**, byte*, byte*, uint, byte*, uint, int>)S("SSL_select_next_proto");
        SSL_new = (delegate* unmanaged<nint, nint>)S("SSL_new");
        SSL_free = (delegate* unmanaged<nint, void>)S("SSL_free");
        SSL_set_bio = (delegate* unmanaged<nint, nint, nint, void>)S("SSL_set_bio");
        SSL_set_connect_state = (delegate* unmanaged<nint, void>)S("SSL_set_connect_state");
        SSL_set_accept_state = (delegate* unmanaged<nint, void>)S("SSL_set_accept_state");
        SSL_do_handshake = (delegate* unmanaged<nint, int>)S("SSL_do_handshake");
        SSL_is_init_finished = (delegate* unmanaged<nint, int>)S("SSL_is_init_finished");
        SSL_read = (delegate* unmanaged<nint, void*, int, int>)S("SSL_read");
        SSL_write = (delegate* unmanaged<nint, void*, int, int>)S("SSL_write");
        SSL_get_error = (delegate* unmanaged<nint, int, int>)S("SSL_get_error");
        SSL_shutdown = (delegate* unmanaged<nint, int>)S("SSL_shutdown");
        SSL_ctrl = (delegate* unmanaged<nint, int, nint, nint, nint>)S("SSL_ctrl");
        SSL_set1_host = (delegate* unmanaged<nint, byte*, int>)S("SSL_set1_host");
        SSL_get0_alpn_selected = (delegate* unmanaged<nint, byte**, uint*, void>)S("SSL_get0_alpn_selected");
        SSL_get_version = (delegate* unmanaged<nint, byte*>)S("SSL_get_version");
        SSL_get1_peer_certificate = (delegate* unmanaged<nint, nint>)S("SSL_get1_peer_certificate");
        SSL_get_verify_result = (delegate* unmanaged<nint, nint>)S("SSL_get_verify_result");
        SSL_get0_param = (delegate* unmanaged<nint, nint>)S("SSL_get0_param");

        BIO_s_mem = (delegate* unmanaged<nint>)C("BIO_s_mem");
        BIO_new = (delegate* unmanaged<nint, nint>)C("BIO_new");
        BIO_read = (delegate* unmanaged<nint, void*, int, int>)C("BIO_read");
        BIO_write = (delegate* unmanaged<nint, void*, int, int>)C("BIO_write");
        BIO_ctrl_pending = (delegate* unmanaged<nint, nuint>)C("BIO_ctrl_pending");
        X509_get_subject_name = (delegate* unmanaged<nint, nint>)C("X509_get_subject_name");
        X509_NAME_oneline = (delegate* unmanaged<nint, byte*, int, byte*>)C("X509_NAME_oneline");
        X509_free = (delegate* unmanaged<nint, void>)C("X509_free");
        X509_verify_cert_error_string = (delegate* unmanaged<nint, byte*>)C("X509_verify_cert_error_string");
        ERR_get_error = (delegate* unmanaged<nuint>)C("ERR_get_error");
        ERR_error_string_n = (delegate* unmanaged<nuint, byte*, nuint, void>)C("ERR_error_string_n");
        ERR_reason_error_string = (delegate* unmanaged<nuint, byte*>)C("ERR_reason_error_string");
        ERR_clear_error = (delegate* unmanaged<void>)C("ERR_clear_error");
        X509_VERIFY_PARAM_set1_ip_asc = (delegate* unmanaged<nint, byte*, int>)C("X509_VERIFY_PARAM_set1_ip_asc");

        return missing == null ? null : $"TLS is not available: {SslLibrary} has no {missing} (OpenSSL 3 is required)";
    }

    private static nint Export(nint library, string name, ref string? missing)
    {
        if (NativeLibrary.TryGetExport(library, name, out nint address))
            return address;
        missing ??= name;
        return 0;
    }

    // The macros of ssl.h this engine uses, as OpenSSL 3 defines them.

    /// <summary><c>SSL_CTX_set_min_proto_version</c>: a macro over SSL_CTX_ctrl; 1 on success.</summary>
    public static nint SSL_CTX_set_min_proto_version(nint ctx, int version)
        => SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, version, 0);

    /// <summary><c>SSL_CTX_set_max_proto_version</c>: a macro over SSL_CTX_ctrl; 1 on success.</summary>
    public static nint SSL_CTX_set_max_proto_version(nint ctx, int version)
        => SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MAX_PROTO_VERSION, version, 0);

    /// <summary><c>SSL_CTX_set_mode</c>: a macro over SSL_CTX_ctrl; returns the new mode.</summary>
    public static nint SSL_CTX_set_mode(nint ctx, long mode)
        => SSL_CTX_ctrl(ctx, SSL_CTRL_MODE, (nint)mode, 0);

    /// <summary><c>SSL_set_tlsext_host_name</c> (SNI): a macro over SSL_ctrl; 1 on success.</summary>
    public static nint SSL_set_tlsext_host_name(nint ssl, byte* name)
        => SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, (nint)name);

    /// <summary>A NUL-terminated C string OpenSSL owns, as text (null for a null pointer).</summary>
    public static string? Text(byte* text) => text == null ? null : Marshal.PtrToStringUTF8((nint)text);
}
