using System.Runtime.InteropServices;

namespace MonaAot.Interop;

/// <summary>
/// Schannel through SSPI (sspi.h, schannel.h; secur32.dll): the TLS engine Windows has. The calls
/// take and give byte buffers (SecBuffer), never a socket, so the engine runs on the loop as
/// OpenSSL's memory BIOs do on Linux (docs/architecture.md, "TLS engine"). Compiled into the Windows build
/// only (MonaAot.Core.csproj), like the TLS engine that uses it, so it carries no platform attribute.
/// </summary>
internal static unsafe partial class Sspi
{
    private const string Name = "secur32.dll";
    private const string Crypt32 = "crypt32.dll";

    /// <summary>Schannel's package name as SSPI knows it (UNISP_NAME_W).</summary>
    public const string PackageName = "Microsoft Unified Security Protocol Provider";

    // SECURITY_STATUS values (winerror.h)
    public const int SEC_E_OK = 0;
    public const int SEC_I_CONTINUE_NEEDED = 0x00090312;
    public const int SEC_I_CONTEXT_EXPIRED = 0x00090317;
    public const int SEC_I_INCOMPLETE_CREDENTIALS = 0x00090320;
    public const int SEC_I_RENEGOTIATE = 0x00090321;
    public const int SEC_E_INCOMPLETE_MESSAGE = unchecked((int)0x80090318);
    public const int SEC_E_UNSUPPORTED_FUNCTION = unchecked((int)0x80090302);
    public const int SEC_E_INTERNAL_ERROR = unchecked((int)0x80090304);
    public const int SEC_E_UNTRUSTED_ROOT = unchecked((int)0x80090325);
    public const int SEC_E_ILLEGAL_MESSAGE = unchecked((int)0x80090326);
    public const int SEC_E_CERT_UNKNOWN = unchecked((int)0x80090327);
    public const int SEC_E_CERT_EXPIRED = unchecked((int)0x80090328);
    public const int SEC_E_WRONG_PRINCIPAL = unchecked((int)0x80090322);
    public const int SEC_E_INCOMPLETE_CREDENTIALS = unchecked((int)0x80090320);

    // SecBuffer types
    public const uint SECBUFFER_VERSION = 0;
    public const uint SECBUFFER_EMPTY = 0;
    public const uint SECBUFFER_DATA = 1;
    public const uint SECBUFFER_TOKEN = 2;
    public const uint SECBUFFER_EXTRA = 5;
    public const uint SECBUFFER_STREAM_TRAILER = 6;
    public const uint SECBUFFER_STREAM_HEADER = 7;
    public const uint SECBUFFER_ALERT = 17;
    public const uint SECBUFFER_APPLICATION_PROTOCOLS = 18;

    // Credential use
    public const uint SECPKG_CRED_INBOUND = 1;
    public const uint SECPKG_CRED_OUTBOUND = 2;

    // Context requirements (ISC_REQ_*, ASC_REQ_*)
    public const uint ISC_REQ_REPLAY_DETECT = 0x4;
    public const uint ISC_REQ_SEQUENCE_DETECT = 0x8;
    public const uint ISC_REQ_CONFIDENTIALITY = 0x10;
    public const uint ISC_REQ_USE_SUPPLIED_CREDS = 0x80;
    public const uint ISC_REQ_ALLOCATE_MEMORY = 0x100;
    public const uint ISC_REQ_EXTENDED_ERROR = 0x4000;
    public const uint ISC_REQ_STREAM = 0x8000;
    public const uint ISC_REQ_MANUAL_CRED_VALIDATION = 0x80000;
    public const uint ASC_REQ_MUTUAL_AUTH = 0x2;
    public const uint ASC_REQ_REPLAY_DETECT = 0x4;
    public const uint ASC_REQ_SEQUENCE_DETECT = 0x8;
    public const uint ASC_REQ_CONFIDENTIALITY = 0x10;
    public const uint ASC_REQ_ALLOCATE_MEMORY = 0x100;
    public const uint ASC_REQ_EXTENDED_ERROR = 0x8000;
    public const uint ASC_REQ_STREAM = 0x10000;

    // Context attributes (QueryContextAttributesW)
    public const uint SECPKG_ATTR_STREAM_SIZES = 4;
    public const uint SECPKG_ATTR_APPLICATION_PROTOCOL = 35;
    public const uint SECPKG_ATTR_REMOTE_CERT_CONTEXT = 0x53;
    public const uint SECPKG_ATTR_CONNECTION_INFO = 0x5a;

    // Protocols (SP_PROT_*)
    public const uint SP_PROT_TLS1_2_SERVER = 0x400;
    public const uint SP_PROT_TLS1_2_CLIENT = 0x800;
    public const uint SP_PROT_TLS1_3_SERVER = 0x1000;
    public const uint SP_PROT_TLS1_3_CLIENT = 0x2000;
    public const uint SP_PROT_TLS1_2 = SP_PROT_TLS1_2_SERVER | SP_PROT_TLS1_2_CLIENT;
    public const uint SP_PROT_TLS1_3 = SP_PROT_TLS1_3_SERVER | SP_PROT_TLS1_3_CLIENT;

    // Credential flags (SCH_CRED_*, SCH_*)
    public const uint SCH_CRED_NO_SYSTEM_MAPPER = 0x2;
    public const uint SCH_CRED_MANUAL_CRED_VALIDATION = 0x8;
    public const uint SCH_CRED_NO_DEFAULT_CREDS = 0x10;
    public const uint SCH_USE_STRONG_CRYPTO = 0x00400000;

    public const uint SCHANNEL_CRED_VERSION = 4;
    public const uint SCH_CREDENTIALS_VERSION = 5;
    public const uint SCHANNEL_SHUTDOWN = 1;
    public const uint SCHANNEL_ALERT = 2;
    public const uint TLS1_ALERT_FATAL = 2;

    // TLS alert numbers (RFC 8446 section 6)
    public const int TLS1_ALERT_HANDSHAKE_FAILURE = 40;
    public const int TLS1_ALERT_BAD_CERTIFICATE = 42;
    public const int TLS1_ALERT_UNSUPPORTED_CERT = 43;
    public const int TLS1_ALERT_CERTIFICATE_EXPIRED = 45;
    public const int TLS1_ALERT_UNKNOWN_CA = 48;
    public const int TLS1_ALERT_CERTIFICATE_REQUIRED = 116;

    [StructLayout(LayoutKind.Sequential)]
    public struct SCHANNEL_ALERT_TOKEN
    {
        public uint dwTokenType;
        public uint dwAlertType;
        public uint dwAlertNumber;
    }

    // SEC_APPLICATION_PROTOCOL_NEGOTIATION_EXT / _STATUS
    public const int SecApplicationProtocolNegotiationExt_ALPN = 2;
    public const int SecApplicationProtocolNegotiationStatus_Success = 1;

    [StructLayout(LayoutKind.Sequential)]
    public struct SecHandle
    {
        public nuint Lower;
        public nuint Upper;

        public readonly bool IsSet => Lower != 0 || Upper != 0;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct SecBuffer
    {
        public uint cbBuffer;
        public uint BufferType;
        public void* pvBuffer;

        public SecBuffer(uint type, void* data, int length)
        {
            BufferType = type;
            pvBuffer = data;
            cbBuffer = (uint)length;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct SecBufferDesc
    {
        public uint ulVersion;
        public uint cBuffers;
        public SecBuffer* pBuffers;

        public SecBufferDesc(SecBuffer* buffers, int count)
        {
            ulVersion = SECBUFFER_VERSION;
            cBuffers = (uint)count;
            pBuffers = buffers;
        }
    }

    /// <summary>The credential of Windows before TLS 1.3 (and of Wine): TLS 1.2 at most.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SCHANNEL_CRED
    {
        public uint dwVersion;
        public uint cCreds;
        public nint* paCred;
        public nint hRootStore;
        public uint cMappers;
        public nint aphMappers;
        public uint cSupportedAlgs;
        public nint palgSupportedAlgs;
        public uint grbitEnabledProtocols;
        public uint dwMinimumCipherStrength;
        public uint dwMaximumCipherStrength;
        public uint dwSessionLifespan;
        public uint dwFlags;
        public uint dwCredFormat;
    }

    /// <summary>The credential that can offer TLS 1.3 (Windows 10 1809 and later).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SCH_CREDENTIALS
    {
        public uint dwVersion;
        public uint dwCredFormat;
        public uint cCreds;
        public nint* paCred;
        public nint hRootStore;
        public uint cMappers;
        public nint aphMappers;
        public uint dwSessionLifespan;
        public uint dwFlags;
        public uint cTlsParameters;
        public TLS_PARAMETERS* pTlsParameters;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct TLS_PARAMETERS
    {
        public uint cAlpnIds;
        public nint rgstrAlpnIds;
        public uint grbitDisabledProtocols;
        public uint cDisabledCrypto;
        public nint pDisabledCrypto;
        public uint dwFlags;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct SecPkgContext_StreamSizes
    {
        public uint cbHeader;
        public uint cbTrailer;
        public uint cbMaximumMessage;
        public uint cBuffers;
        public uint cbBlockSize;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct SecPkgContext_ConnectionInfo
    {
        public uint dwProtocol;
        public uint aiCipher;
        public uint dwCipherStrength;
        public uint aiHash;
        public uint dwHashStrength;
        public uint aiExch;
        public uint dwExchStrength;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct SecPkgContext_ApplicationProtocol
    {
        public int ProtoNegoStatus;
        public int ProtoNegoExt;
        public byte ProtocolIdSize;
        public fixed byte ProtocolId[255];
    }

    /// <summary>The head of SEC_APPLICATION_PROTOCOLS with its one list (packed: the wire-format
    /// names follow at byte 10).</summary>
    public const int ApplicationProtocolsHeader = 10;

    [LibraryImport(Name, EntryPoint = "AcquireCredentialsHandleW", StringMarshalling = StringMarshalling.Utf16)]
    public static partial int AcquireCredentialsHandle(string? principal, string package, uint credentialUse, nint logonId,
        void* authData, nint getKeyFunction, nint getKeyArgument, SecHandle* credential, long* expiry);

    [LibraryImport(Name)]
    public static partial int FreeCredentialsHandle(SecHandle* credential);

    [LibraryImport(Name, EntryPoint = "InitializeSecurityContextW")]
    public static partial int InitializeSecurityContext(SecHandle* credential, SecHandle* context, char* targetName,
        uint contextRequirements, uint reserved1, uint targetDataRepresentation, SecBufferDesc* input, uint reserved2,
        SecHandle* newContext, SecBufferDesc* output, uint* contextAttributes, long* expiry);

    [LibraryImport(Name)]
    public static partial int AcceptSecurityContext(SecHandle* credential, SecHandle* context, SecBufferDesc* input,
        uint contextRequirements, uint targetDataRepresentation, SecHandle* newContext, SecBufferDesc* output,
        uint* contextAttributes, long* expiry);

    [LibraryImport(Name)]
    public static partial int DeleteSecurityContext(SecHandle* context);

    [LibraryImport(Name)]
    public static partial int ApplyControlToken(SecHandle* context, SecBufferDesc* input);

    [LibraryImport(Name)]
    public static partial int EncryptMessage(SecHandle* context, uint qualityOfProtection, SecBufferDesc* message, uint sequence);

    [LibraryImport(Name)]
    public static partial int DecryptMessage(SecHandle* context, SecBufferDesc* message, uint sequence, uint* qualityOfProtection);

    [LibraryImport(Name, EntryPoint = "QueryContextAttributesW")]
    public static partial int QueryContextAttributes(SecHandle* context, uint attribute, void* buffer);

    [LibraryImport(Name)]
    public static partial int FreeContextBuffer(void* buffer);

    [LibraryImport(Crypt32)]
    public static partial int CertFreeCertificateContext(nint certificate);
}
