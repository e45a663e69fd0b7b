using System;
using System.Collections.Generic;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Tasks;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Lua;

/// <summary>
/// mona:hash, mona:hmac, mona:toBase64, mona:fromBase64 and mona:toHex (docs/api.md, "Hashes
/// and encodings") called from Lua in-process: the published test vectors (FIPS 180-4's
/// examples, RFC 1321, RFC 2202, RFC 4231, RFC 4648), a randomized cross-check against .NET's
/// own implementations (the test may load OpenSSL through them; the binary never does, see
/// HashProcessTests), the errors a script sees, and no managed allocation per call.
/// </summary>
public class HashFunctionsTests
{
    private static byte[] Ascii(string s) => Encoding.ASCII.GetBytes(s);
    private static byte[] Repeat(byte b, int n) => Enumerable.Repeat(b, n).ToArray();
    private static string Hex(byte[] b) => Convert.ToHexStringLower(b);

    private const string Fips448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    private const string Fips896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";

    /// <summary>FIPS 180-4's examples (the "abc", 448-bit, 896-bit and one-million-'a'
    /// messages) and RFC 1321's MD5 suite (appendix A.5).</summary>
    private static readonly (string Name, byte[] Data, string Digest)[] HashVectors =
    [
        ("sha1", Ascii("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("sha1", Ascii(Fips448), "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
        ("sha1", Ascii(Fips896), "a49b2446a02c645bf419f995b67091253a04a259"),
        ("sha1", Repeat((byte)'a', 1_000_000), "34aa973cd4c4daa4f61eeb2bdbad27316534016f"),
        ("sha256", Ascii("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("sha256", Ascii(Fips448), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ("sha256", Ascii(Fips896), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
        ("sha256", Repeat((byte)'a', 1_000_000), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
        ("sha512", Ascii("abc"), "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"),
        ("sha512", Ascii(Fips448), "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c33596fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445"),
        ("sha512", Ascii(Fips896), "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909"),
        ("sha512", Repeat((byte)'a', 1_000_000), "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973ebde0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b"),
        ("md5", Ascii(""), "d41d8cd98f00b204e9800998ecf8427e"),
        ("md5", Ascii("a"), "0cc175b9c0f1b6a831c399e269772661"),
        ("md5", Ascii("abc"), "900150983cd24fb0d6963f7d28e17f72"),
        ("md5", Ascii("message digest"), "f96b697d7cb7938d525a2f31aaf161d0"),
        ("md5", Ascii("abcdefghijklmnopqrstuvwxyz"), "c3fcd3d76192e4007dfb496cca67e13b"),
        ("md5", Ascii("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"), "d174ab98d277d9f5a5611c2c9f419d9f"),
        ("md5", Ascii(string.Concat(Enumerable.Repeat("1234567890", 8))), "57edf4a22be3c955ac49da2e2107b67a"),
        // The empty message for the others (the digest of the padding block alone).
        ("sha1", [], "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ("sha256", [], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("sha512", [], "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"),
    ];

    private static readonly byte[] Key25 = Enumerable.Range(1, 25).Select(i => (byte)i).ToArray();
    private const string LargerKeyFirst = "Test Using Larger Than Block-Size Key - Hash Key First";
    private const string LargerKeyData = "Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data";
    private const string Rfc4231Case7 = "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.";

    /// <summary>RFC 2202 (HMAC-MD5, HMAC-SHA1: all seven cases each) and RFC 4231
    /// (HMAC-SHA256, HMAC-SHA512: all seven cases, case 5 truncated to 128 bits as the RFC
    /// gives it, cases 6 and 7 with the 131-byte key). The digest is compared on its first
    /// Expected.Length / 2 bytes.</summary>
    private static readonly (string Name, byte[] Key, byte[] Data, string Expected)[] HmacVectors =
    [
        ("md5", Repeat(0x0b, 16), Ascii("Hi There"), "9294727a3638bb1c13f48ef8158bfc9d"),
        ("md5", Ascii("Jefe"), Ascii("what do ya want for nothing?"), "750c783e6ab0b503eaa86e310a5db738"),
        ("md5", Repeat(0xaa, 16), Repeat(0xdd, 50), "56be34521d144c88dbb8c733f0e8b3f6"),
        ("md5", Key25, Repeat(0xcd, 50), "697eaf0aca3a3aea3a75164746ffaa79"),
        ("md5", Repeat(0x0c, 16), Ascii("Test With Truncation"), "56461ef2342edc00f9bab995690efd4c"),
        ("md5", Repeat(0xaa, 80), Ascii(LargerKeyFirst), "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"),
        ("md5", Repeat(0xaa, 80), Ascii(LargerKeyData), "6f630fad67cda0ee1fb1f562db3aa53e"),
        ("sha1", Repeat(0x0b, 20), Ascii("Hi There"), "b617318655057264e28bc0b6fb378c8ef146be00"),
        ("sha1", Ascii("Jefe"), Ascii("what do ya want for nothing?"), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
        ("sha1", Repeat(0xaa, 20), Repeat(0xdd, 50), "125d7342b9ac11cd91a39af48aa17b4f63f175d3"),
        ("sha1", Key25, Repeat(0xcd, 50), "4c9007f4026250c6bc8414f9bf50c86c2d7235da"),
        ("sha1", Repeat(0x0c, 20), Ascii("Test With Truncation"), "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04"),
        ("sha1", Repeat(0xaa, 80), Ascii(LargerKeyFirst), "aa4ae5e15272d00e95705637ce8a3b55ed402112"),
        ("sha1", Repeat(0xaa, 80), Ascii(LargerKeyData), "e8e99d0f45237d786d6bbaa7965c7808bbff1a91"),
        ("sha256", Repeat(0x0b, 20), Ascii("Hi There"), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        ("sha256", Ascii("Jefe"), Ascii("what do ya want for nothing?"), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        ("sha256", Repeat(0xaa, 20), Repeat(0xdd, 50), "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        ("sha256", Key25, Repeat(0xcd, 50), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        ("sha256", Repeat(0x0c, 20), Ascii("Test With Truncation"), "a3b6167473100ee06e0c796c2955552b"),
        ("sha256", Repeat(0xaa, 131), Ascii(LargerKeyFirst), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        ("sha256", Repeat(0xaa, 131), Ascii(Rfc4231Case7), "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
        ("sha512", Repeat(0x0b, 20), Ascii("Hi There"), "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"),
        ("sha512", Ascii("Jefe"), Ascii("what do ya want for nothing?"), "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"),
        ("sha512", Repeat(0xaa, 20), Repeat(0xdd, 50), "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb"),
        ("sha512", Key25, Repeat(0xcd, 50), "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3dba91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd"),
        ("sha512", Repeat(0x0c, 20), Ascii("Test With Truncation"), "415fad6271580a531d4179bc891d87a6"),
        ("sha512", Repeat(0xaa, 131), Ascii(LargerKeyFirst), "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"),
        ("sha512", Repeat(0xaa, 131), Ascii(Rfc4231Case7), "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58"),
    ];

    /// <summary>Calls mona:<paramref name="function"/>(args...) on the loop; returns every
    /// result (a string's bytes, else its tostring as bytes, null for nil), or throws the error.</summary>
    internal static Task<byte[]?[]> Call(TcpApp app, string function, params byte[][] args) => app.Harness.OnLoop(() =>
    {
        KeraLua.Lua lua = app.Harness.Vm.State;
        int top = lua.GetTop();
        try
        {
            lua.GetGlobal("mona");
            lua.GetField(-1, function);
            lua.PushCopy(-2);
            foreach (byte[] arg in args)
                lua.PushBuffer(arg);
            if (lua.PCall(1 + args.Length, -1 /* LUA_MULTRET */, 0) != KeraLua.LuaStatus.OK)
                throw new InvalidOperationException(lua.ToString(-1));
            var results = new List<byte[]?>();
            for (int i = top + 2; i <= lua.GetTop(); i++)
                results.Add(lua.Type(i) == KeraLua.LuaType.Nil ? null : lua.ToBuffer(i, callMetamethod: false));
            return results.ToArray();
        }
        finally
        {
            lua.SetTop(top);
        }
    });

    private static async Task<byte[]> One(TcpApp app, string function, params byte[][] args) => (await Call(app, function, args))[0]!;

    [Test]
    public async Task Hash_FipsAndRfc1321Vectors()
    {
        await using TcpApp app = await TcpApp.Start("");
        var wrong = new List<string>();
        foreach ((string name, byte[] data, string digest) in HashVectors)
        {
            string got = Hex(await One(app, "hash", Ascii(name), data));
            if (got != digest)
                wrong.Add($"{name}({data.Length} bytes) = {got}, expected {digest}");
        }
        await Assert.That(wrong).IsEmpty();
    }

    [Test]
    public async Task Hmac_Rfc2202AndRfc4231Vectors()
    {
        await using TcpApp app = await TcpApp.Start("");
        var wrong = new List<string>();
        foreach ((string name, byte[] key, byte[] data, string expected) in HmacVectors)
        {
            string got = Hex(await One(app, "hmac", Ascii(name), key, data))[..expected.Length];
            if (got != expected)
                wrong.Add($"hmac-{name}(key {key.Length} bytes, data {data.Length} bytes) = {got}, expected {expected}");
        }
        await Assert.That(wrong).IsEmpty();
    }

    /// <summary>Random data and keys of every length around the block boundaries (where the
    /// padding changes shape) and a few large ones, against .NET's implementations.</summary>
    [Test]
    public async Task HashAndHmac_MatchDotNet_OnRandomData()
    {
        await using TcpApp app = await TcpApp.Start("");
        var random = new Random(16);
        var wrong = new List<string>();
        int[] lengths = [.. Enumerable.Range(0, 300), 1000, 4095, 65_536, 1 << 20];
        foreach (int length in lengths)
        {
            byte[] data = new byte[length];
            random.NextBytes(data);
            byte[] key = new byte[random.Next(0, 200)];
            random.NextBytes(key);
            (string Name, byte[] Hash, byte[] Hmac)[] expected =
            [
                ("md5", MD5.HashData(data), HMACMD5.HashData(key, data)),
                ("sha1", SHA1.HashData(data), HMACSHA1.HashData(key, data)),
                ("sha256", SHA256.HashData(data), HMACSHA256.HashData(key, data)),
                ("sha512", SHA512.HashData(data), HMACSHA512.HashData(key, data)),
            ];
            foreach ((string name, byte[] hash, byte[] hmac) in expected)
            {
                if (!(await One(app, "hash", Ascii(name), data)).AsSpan().SequenceEqual(hash))
                    wrong.Add($"{name} of {length} bytes");
                if (!(await One(app, "hmac", Ascii(name), key, data)).AsSpan().SequenceEqual(hmac))
                    wrong.Add($"hmac-{name} of {length} bytes, key of {key.Length}");
            }
        }
        await Assert.That(wrong).IsEmpty();
    }

    /// <summary>The portable SHA-1 and SHA-256 (what a processor without the SHA instructions
    /// runs) against .NET's, called in the shim directly; the rest of this class checks the
    /// code this machine's processor selects. Other tests running meanwhile may take the
    /// portable code too, which gives them the same digests.</summary>
    [Test]
    public async Task PortableCode_MatchesDotNet()
    {
        var random = new Random(180);
        var wrong = new List<string>();
        byte[] digest = new byte[MonaAot.Lua.Native.Shim.MONA_HASH_MAX];
        MonaAot.Lua.Native.Shim.mona_hash_portable(1);
        try
        {
            foreach (int length in (int[])[.. Enumerable.Range(0, 200), 1000, 65_537])
            {
                byte[] data = new byte[length];
                random.NextBytes(data);
                if (!Digest(MonaAot.Lua.Native.Shim.MONA_SHA1, data, digest).SequenceEqual(SHA1.HashData(data)))
                    wrong.Add($"sha1 of {length} bytes");
                if (!Digest(MonaAot.Lua.Native.Shim.MONA_SHA256, data, digest).SequenceEqual(SHA256.HashData(data)))
                    wrong.Add($"sha256 of {length} bytes");
            }
        }
        finally
        {
            MonaAot.Lua.Native.Shim.mona_hash_portable(0);
        }
        await Assert.That(wrong).IsEmpty();
    }

    private static unsafe ReadOnlySpan<byte> Digest(int algorithm, byte[] data, byte[] digest)
    {
        int size;
        fixed (byte* d = data)
        fixed (byte* o = digest)
            size = MonaAot.Lua.Native.Shim.mona_hash(algorithm, d, (nuint)data.Length, o);
        return digest.AsSpan(0, size);
    }

    /// <summary>RFC 4648 section 10, with and without the padding, and binary data with NULs.</summary>
    [Test]
    public async Task Base64_Rfc4648Vectors_BothWays()
    {
        await using TcpApp app = await TcpApp.Start("");
        (string Data, string Text)[] vectors =
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")];
        foreach ((string data, string text) in vectors)
        {
            await Assert.That(Encoding.ASCII.GetString(await One(app, "toBase64", Ascii(data)))).IsEqualTo(text);
            await Assert.That(Encoding.ASCII.GetString(await One(app, "fromBase64", Ascii(text)))).IsEqualTo(data);
            await Assert.That(Encoding.ASCII.GetString(await One(app, "fromBase64", Ascii(text.TrimEnd('='))))).IsEqualTo(data);
        }
        byte[] binary = [0, 0, 0xff, 0, 0xfb, 0xef, 0xbe, 0];
        await Assert.That(Encoding.ASCII.GetString(await One(app, "toBase64", binary))).IsEqualTo(Convert.ToBase64String(binary));
        await Assert.That(await One(app, "fromBase64", Ascii(Convert.ToBase64String(binary)))).IsEquivalentTo(binary);
    }

    /// <summary>What fromBase64 accepts besides the canonical text: the URL-safe alphabet and
    /// whitespace anywhere (MIME's line breaks).</summary>
    [Test]
    public async Task FromBase64_AcceptsUrlSafeAlphabetAndWhitespace()
    {
        await using TcpApp app = await TcpApp.Start("");
        byte[] binary = [0xfb, 0xef, 0xbe, 0xff, 0xfe];
        await Assert.That(Convert.ToBase64String(binary)).IsEqualTo("++++//4=");
        await Assert.That(await One(app, "fromBase64", Ascii("----__4"))).IsEquivalentTo(binary);
        await Assert.That(await One(app, "fromBase64", Ascii(" ++++\r\n//4 =\n"))).IsEquivalentTo(binary);
    }

    [Test]
    public async Task FromBase64_InvalidText_ReturnsNilAndMessage()
    {
        await using TcpApp app = await TcpApp.Start("");
        (string Text, string Message)[] cases =
        [
            ("Zm9v!", "invalid base64 character '!' at position 5"),
            ("Zm\u00e9v", "invalid base64 character 0xc3 at position 3"),
            ("Zm9vY", "truncated base64 text: a lone character at the end (position 5)"),
            ("Zg=", "invalid base64 padding: missing '='"),
            ("Zg===", "invalid base64 padding at position 5"),
            ("Zm8=Zm8=", "invalid base64 padding at position 5"),
            ("====", "invalid base64 padding at position 1"),
            ("Zm9v=", "invalid base64 padding at position 5"),
        ];
        foreach ((string text, string message) in cases)
        {
            byte[]?[] results = await Call(app, "fromBase64", Encoding.UTF8.GetBytes(text));
            await Assert.That(results.Length).IsEqualTo(2);
            await Assert.That(results[0]).IsNull();
            await Assert.That(Encoding.UTF8.GetString(results[1]!)).IsEqualTo(message);
        }
    }

    [Test]
    public async Task Encodings_MatchDotNet_OnRandomData()
    {
        await using TcpApp app = await TcpApp.Start("");
        var random = new Random(4648);
        foreach (int length in (int[])[.. Enumerable.Range(0, 100), 767, 768, 769, 1500, 100_000])
        {
            byte[] data = new byte[length];
            random.NextBytes(data);
            string base64 = Convert.ToBase64String(data);
            await Assert.That(Encoding.ASCII.GetString(await One(app, "toBase64", data))).IsEqualTo(base64);
            await Assert.That(await One(app, "fromBase64", Ascii(base64))).IsEquivalentTo(data);
            await Assert.That(Encoding.ASCII.GetString(await One(app, "toHex", data))).IsEqualTo(Convert.ToHexStringLower(data));
        }
    }

    /// <summary>Random bytes given to fromBase64: an answer every time (bytes, or nil and a
    /// message), the same validity as .NET's decoder for texts of the standard alphabet.</summary>
    [Test]
    public async Task FromBase64_RandomText_NeverFailsOrCrashes()
    {
        await using TcpApp app = await TcpApp.Start("");
        var random = new Random(2026);
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
        for (int i = 0; i < 2000; i++)
        {
            byte[] text = new byte[random.Next(0, 40)];
            if (i % 2 == 0)
                random.NextBytes(text);
            else
                for (int j = 0; j < text.Length; j++)
                    text[j] = (byte)alphabet[random.Next(alphabet.Length)];
            byte[]?[] results = await Call(app, "fromBase64", text);
            bool ours = results[0] is not null;
            if (results.Length == 2)
                await Assert.That(results[1]).IsNotNull();
            // .NET requires the padding and a multiple of 4: the texts it accepts, we accept alike.
            byte[] reference = new byte[text.Length];
            if (i % 2 == 1 && Convert.TryFromBase64String(Encoding.ASCII.GetString(text), reference, out int written))
            {
                await Assert.That(ours).IsTrue();
                await Assert.That(results[0]!).IsEquivalentTo(reference[..written]);
            }
        }
    }

    [Test]
    public async Task ToHex_LowercaseWithNuls_AndEmptyInputs()
    {
        await using TcpApp app = await TcpApp.Start("");
        await Assert.That(Encoding.ASCII.GetString(await One(app, "toHex", [0, 0xab, 0, 0xff, 0x10]))).IsEqualTo("00ab00ff10");
        await Assert.That((await One(app, "toHex", Array.Empty<byte>())).Length).IsEqualTo(0);
        await Assert.That((await One(app, "toBase64", Array.Empty<byte>())).Length).IsEqualTo(0);
        await Assert.That((await One(app, "fromBase64", Array.Empty<byte>())).Length).IsEqualTo(0);
        await Assert.That(Hex(await One(app, "hash", Ascii("md5"), [0, 0, 0]))).IsEqualTo(Hex(MD5.HashData(new byte[3])));
        await Assert.That(Hex(await One(app, "hmac", Ascii("sha256"), [], []))).IsEqualTo(Hex(HMACSHA256.HashData([], [])));
    }

    [Test]
    public async Task WrongArguments_RaiseReadableErrors()
    {
        (string Code, string Error)[] cases =
        [
            ("mona:hash('sha3', 'x')", "bad argument #1 to 'hash' (unknown hash 'sha3'; use md5, sha1, sha256 or sha512)"),
            ("mona:hash('SHA256', 'x')", "bad argument #1 to 'hash' (unknown hash 'SHA256'; use md5, sha1, sha256 or sha512)"),
            ("mona:hash(nil, 'x')", "bad argument #1 to 'hash' (hash name expected, got nil)"),
            ("mona:hash('md5')", "bad argument #2 to 'hash' (string expected, got no value)"),
            ("mona:hash('md5', {})", "bad argument #2 to 'hash' (string expected, got table)"),
            ("mona.hash('md5', 'x')", "bad argument #1 to 'hash' (mona expected, got string (call it as mona:hash))"),
            ("mona:hmac('sha1', nil, 'x')", "bad argument #2 to 'hmac' (string expected, got nil)"),
            ("mona:hmac('sha1', 'k')", "bad argument #3 to 'hmac' (string expected, got no value)"),
            ("mona:hmac('whirlpool', 'k', 'x')", "bad argument #1 to 'hmac' (unknown hash 'whirlpool'; use md5, sha1, sha256 or sha512)"),
            ("mona:toBase64()", "bad argument #1 to 'toBase64' (string expected, got no value)"),
            ("mona:fromBase64(false)", "bad argument #1 to 'fromBase64' (string expected, got boolean)"),
            ("mona:toHex({})", "bad argument #1 to 'toHex' (string expected, got table)"),
            ("mona.toHex('ab')", "bad argument #1 to 'toHex' (mona expected, got string (call it as mona:toHex))"),
        ];
        await using TcpApp app = await TcpApp.Start("");
        foreach ((string code, string error) in cases)
            await Assert.That(await TimerTests.ErrorOf(app, code)).EndsWith(error);
    }

    /// <summary>A number is hashed as Lua's text of it, as string functions take numbers.</summary>
    [Test]
    public async Task Numbers_AreTakenAsTheirText()
    {
        await using TcpApp app = await TcpApp.Start("");
        await app.Run("NOTE('hex ', mona:toHex(12), ' ', mona:toHex(mona:hash('sha1', 1.5)) == mona:toHex(mona:hash('sha1', '1.5')))");
        await Assert.That(app.Log.MessagesStartingWith("hex ")).IsEquivalentTo(new[] { "hex 3132 (true)" });
    }

    /// <summary>2,000 more calls of each function allocate nothing managed on the loop thread, the
    /// one running them (the results are Lua strings; large ones are built in native memory).</summary>
    [Test]
    public async Task Calls_AllocateNoManagedMemory()
    {
        await using TcpApp app = await TcpApp.Start("");
        const string loop = """
            local small, large = ("x"):rep(100), ("y"):rep(20000)
            for i = 1, N do
              mona:hash('sha256', small) mona:hash('md5', large)
              mona:hmac('sha512', 'key', small)
              local b = mona:toBase64(large) mona:fromBase64(b) mona:fromBase64(mona:toBase64(small))
              mona:toHex(small) mona:toHex(large)
            end
            """;
        Task<long> Measure(int n) => app.Harness.OnLoop(() =>
        {
            KeraLua.Lua lua = app.Harness.Vm.State;
            long before = GC.GetAllocatedBytesForCurrentThread();
            if (lua.DoString("local N = " + n + "\n" + loop))
                throw new InvalidOperationException(lua.ToString(-1));
            return GC.GetAllocatedBytesForCurrentThread() - before;
        });
        // The first run is long enough for the JIT to tier the host functions up (the Windows
        // build under Wine runs JIT, not Native AOT), so the measured runs see the final code;
        // a per-call allocation of one byte would still show as 8 * 2,000 bytes.
        long warm = await Measure(2_000);
        long few = await Measure(100);
        long many = await Measure(2_100);
        await Assert.That(many - few).IsLessThan(1024);
        await Assert.That(warm).IsGreaterThanOrEqualTo(0);
    }
}
