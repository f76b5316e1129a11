"""Ed25519 verification (actuators/boot/mf_ed25519.c, RFC 8032) and SHA-512
(mf_sha512.c, FIPS 180-4) through the _boot binding.

References: hashlib for SHA-512; the RFC 8032 section 7.1 test vectors; the
`cryptography` package (OpenSSL) for signing and as a second verifier; and a
textbook affine Edwards-curve model written below (RFC 8032 section 5.1) for
building small-order and invalid points.
"""
from __future__ import annotations

import hashlib
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from actuators import _boot

# ---------------------------------------------------------------- reference

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
Point = tuple[int, int]  # affine (x, y)
IDENTITY: Point = (0, 1)


def ref_add(p: Point, q: Point) -> Point:
    """Affine twisted Edwards addition, a = -1 (RFC 8032 section 5.1)."""
    (x1, y1), (x2, y2) = p, q
    t = D * x1 * x2 * y1 * y2 % P
    x3 = (x1 * y2 + y1 * x2) * pow(1 + t, P - 2, P) % P
    y3 = (y1 * y2 + x1 * x2) * pow(1 - t, P - 2, P) % P
    return x3, y3


def ref_mul(n: int, p: Point) -> Point:
    """[n]p by double-and-add."""
    q = IDENTITY
    while n > 0:
        if n & 1:
            q = ref_add(q, p)
        p = ref_add(p, p)
        n >>= 1
    return q


def ref_x_from_y(y: int) -> int | None:
    """An x with -x^2 + y^2 = 1 + d x^2 y^2 (either sign), or None."""
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    return x if (x * x - x2) % P == 0 else None


def ref_encode(p: Point) -> bytes:
    x, y = p
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def ref_decode(s: bytes) -> Point | None:
    """RFC 8032 5.1.3."""
    v = int.from_bytes(s, "little")
    y, sign = v & ((1 << 255) - 1), v >> 255
    if y >= P:
        return None
    x = ref_x_from_y(y)
    if x is None or (x == 0 and sign):
        return None
    if x & 1 != sign:
        x = P - x
    return x, y


_BY = 4 * pow(5, P - 2, P) % P
_BX = ref_x_from_y(_BY) or 0
B: Point = (P - _BX if _BX & 1 else _BX, _BY)  # base point: y = 4/5, x even


def torsion_points() -> list[Point]:
    """The 8 points of order dividing 8: multiples of one point of order 8."""
    rng = random.Random(8)
    while True:
        y = rng.randrange(P)
        x = ref_x_from_y(y)
        if x is None:
            continue
        t = ref_mul(L, (x, y))  # removes the prime-order component
        if ref_mul(4, t) != IDENTITY:  # order exactly 8
            return [ref_mul(i, t) for i in range(8)]


# ---------------------------------------------------------------- fixtures

RFC8032 = [  # name, secret key, public key, message, signature (RFC 8032 section 7.1)
    (
        "TEST 1",
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "TEST 2",
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "TEST 3",
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
    (
        "TEST 1024",
        "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
        "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
        (
            "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1"
            "e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d"
            "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a"
            "7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e"
            "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc10"
            "3b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1"
            "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594e1a2297acbbb39d"
            "502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270"
            "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089b"
            "eccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba"
            "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af8969b"
            "e3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7"
            "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988d"
            "cda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df"
            "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7"
            "984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4"
            "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac09"
            "43bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f"
            "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f161"
            "0e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d"
            "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8ca"
            "c60c905c15fc910840b94c00a0b9d0"
        ),
        "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03",
    ),
    (
        "TEST SHA(abc)",
        "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
        "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
        (
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd"
            "454d4423643ce80e2a9ac94fa54ca49f"
        ),
        "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
    ),
]


def raw_pub(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def openssl_verifies(sig: bytes, pub: bytes, msg: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(pub).verify(sig, msg)
    except (InvalidSignature, ValueError):
        return False
    return True


def signed(seed: int, msg: bytes) -> tuple[bytes, bytes]:
    """(signature, raw public key) of msg under a key derived from seed, by cryptography."""
    key = Ed25519PrivateKey.from_private_bytes(random.Random(seed).randbytes(32))
    return key.sign(msg), raw_pub(key)


# ----------------------------------------------------------------- SHA-512

@pytest.mark.parametrize("n", [0, 1, 3, 55, 111, 112, 113, 127, 128, 129, 239, 240, 256, 1000,
                               65536, 1_000_003])
def test_sha512_matches_hashlib(n: int) -> None:
    data = random.Random(n).randbytes(n)
    assert _boot.sha512(data) == hashlib.sha512(data).digest()


def test_sha512_fips_examples() -> None:
    assert _boot.sha512(b"abc").hex().startswith("ddaf35a193617aba")
    assert _boot.sha512(b"a" * 1_000_000) == hashlib.sha512(b"a" * 1_000_000).digest()


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=600), cuts=st.lists(st.integers(0, 600), max_size=8))
def test_sha512_streaming_any_split(data: bytes, cuts: list[int]) -> None:
    h = _boot.Sha512()
    edges = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    for a, b in zip(edges, edges[1:]):
        h.update(data[a:b])
    assert h.digest() == hashlib.sha512(data).digest()


# -------------------------------------------------------- valid signatures

@pytest.mark.parametrize("name,sk,pk,msg,sig", RFC8032, ids=[v[0] for v in RFC8032])
def test_rfc8032_vector_verifies(name: str, sk: str, pk: str, msg: str, sig: str) -> None:
    m, s, a = bytes.fromhex(msg), bytes.fromhex(sig), bytes.fromhex(pk)
    # the transcription is right: cryptography derives the same key and signature
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(sk))
    assert raw_pub(key) == a and key.sign(m) == s
    assert _boot.ed25519_verify_code(s, a, m) == 0
    v = _boot.Ed25519Verifier(s, a)
    assert v.begin_code == 0
    for i in range(0, len(m), 100):
        v.update(m[i:i + 100])
    assert v.end() == 0


def test_sha_abc_vector_message_is_sha512_of_abc() -> None:
    assert bytes.fromhex(RFC8032[4][3]) == hashlib.sha512(b"abc").digest()


def test_random_cryptography_signatures_verify() -> None:
    rng = random.Random(2024)
    for i in range(600):
        msg = rng.randbytes(rng.choice([0, 1, rng.randrange(300), rng.randrange(5000)]))
        sig, pub = signed(10_000 + i, msg)
        assert _boot.ed25519_verify(sig, pub, msg), i


def test_streaming_verify_matches_one_shot() -> None:
    rng = random.Random(7)
    for i in range(40):
        msg = rng.randbytes(rng.randrange(3000))
        sig, pub = signed(i, msg)
        v = _boot.Ed25519Verifier(sig, pub)
        pos = 0
        while pos < len(msg):
            n = rng.randrange(1, 400)
            v.update(msg[pos:pos + n])
            pos += n
        assert v.end() == 0
        assert v.end() < 0  # consumed


# ---------------------------------------------------------------- refusals

@pytest.mark.parametrize("msg_len", [0, 1, 40])
def test_every_single_bit_flip_is_refused(msg_len: int) -> None:
    msg = random.Random(msg_len).randbytes(msg_len)
    sig, pub = signed(99 + msg_len, msg)

    def flipped(b: bytes, bit: int) -> bytes:
        a = bytearray(b)
        a[bit // 8] ^= 1 << (bit % 8)
        return bytes(a)

    accepted = [("sig", i) for i in range(512) if _boot.ed25519_verify(flipped(sig, i), pub, msg)]
    accepted += [("pub", i) for i in range(256) if _boot.ed25519_verify(sig, flipped(pub, i), msg)]
    accepted += [("msg", i) for i in range(8 * msg_len) if _boot.ed25519_verify(sig, pub, flipped(msg, i))]
    assert accepted == []
    assert _boot.ed25519_verify(sig, pub, msg + b"\0") is False
    assert _boot.ed25519_verify(sig, pub, msg)


def test_non_canonical_s_refused() -> None:
    msg = b"firmware"
    sig, pub = signed(5, msg)
    s = int.from_bytes(sig[32:], "little")
    for s_bad in (s + L, s + 2 * L, L, 2**256 - 1):
        bad = sig[:32] + s_bad.to_bytes(32, "little")
        assert _boot.ed25519_verify_code(bad, pub, msg) == -20, hex(s_bad)
        assert not openssl_verifies(bad, pub, msg)


def test_small_order_public_keys_and_r_refused() -> None:
    points = torsion_points()
    assert len({ref_encode(p) for p in points}) == 8
    assert all(ref_mul(8, p) == IDENTITY for p in points)
    sig, pub = signed(6, b"m")
    encodings = set()
    for x, y in points:
        encodings.add(ref_encode((x, y)))
        if y + P < 2**255:  # the same point, y written non-canonically
            encodings.add((y + P | ((x & 1) << 255)).to_bytes(32, "little"))
        if x == 0:  # x = 0 with the sign bit set
            encodings.add((y | (1 << 255)).to_bytes(32, "little"))
    assert len(encodings) >= 8 + 2
    for enc in encodings:
        assert _boot.ed25519_verify_code(sig, enc, b"m") == -21, enc.hex()
        assert _boot.ed25519_verify_code(enc + sig[32:], pub, b"m") == -22, enc.hex()


def test_identity_key_forgery_refused() -> None:
    """With A = identity, R = [S]B satisfies RFC 8032's equation for every message;
    the verifier refuses small-order keys, so this forgery fails."""
    a = ref_encode(IDENTITY)
    s = 123456789
    r = ref_encode(ref_mul(s, B))
    msg = b"any firmware at all"
    k = int.from_bytes(hashlib.sha512(r + a + msg).digest(), "little") % L
    r_point = ref_decode(r)
    assert r_point is not None
    assert ref_mul(s, B) == ref_add(r_point, ref_mul(k, IDENTITY))  # the equation holds
    assert _boot.ed25519_verify_code(r + s.to_bytes(32, "little"), a, msg) == -21


def test_invalid_point_encodings_refused() -> None:
    msg = b"m"
    sig, pub = signed(7, msg)
    bad: list[bytes] = []
    for y in range(P, 2**255):  # y >= p: non-canonical
        bad += [y.to_bytes(32, "little"), (y | 1 << 255).to_bytes(32, "little")]
    rng = random.Random(3)
    while len(bad) < 38 + 40:  # y with no x on the curve
        y = rng.randrange(P)
        if ref_x_from_y(y) is None:
            bad.append(y.to_bytes(32, "little"))
    for enc in bad:
        assert ref_decode(enc) is None
        assert _boot.ed25519_verify_code(sig, enc, msg) == -21, enc.hex()
        assert _boot.ed25519_verify_code(enc + sig[32:], pub, msg) == -22, enc.hex()


def test_valid_r_fails_only_the_equation() -> None:
    """Valid encodings of random prime-order points as R decode (as in the
    reference) and are refused by the group equation (-23) only."""
    rng = random.Random(4)
    sig, pub = signed(8, b"m")
    for _ in range(10):
        r = ref_encode(ref_mul(rng.randrange(1, L), B))
        assert ref_decode(r) is not None
        assert _boot.ed25519_verify_code(r + sig[32:], pub, b"m") == -23


@settings(max_examples=150, deadline=None)
@given(pos=st.integers(0, 64 + 32 + 16 - 1), val=st.integers(0, 255), seed=st.integers(0, 2**16))
def test_mutations_agree_with_openssl(pos: int, val: int, seed: int) -> None:
    msg = random.Random(seed).randbytes(16)
    sig, pub = signed(seed, msg)
    blob = bytearray(sig + pub + msg)
    blob[pos] = val
    s, a, m = bytes(blob[:64]), bytes(blob[64:96]), bytes(blob[96:])
    assert _boot.ed25519_verify(s, a, m) == openssl_verifies(s, a, m)


def test_wrong_lengths_raise() -> None:
    with pytest.raises(ValueError, match="sig"):
        _boot.ed25519_verify(b"\0" * 63, b"\0" * 32, b"")
    with pytest.raises(ValueError, match="pub"):
        _boot.ed25519_verify(b"\0" * 64, b"\0" * 33, b"")


# ------------------------------------------------------------------ C side

CTESTS = Path(__file__).resolve().parent / "c"
BOOT = Path(__file__).resolve().parents[2] / "actuators" / "boot"


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=CTESTS, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.parametrize("san", ["0", pytest.param("1", marks=pytest.mark.slow)], ids=["plain", "asan-ubsan"])
def test_c_vectors(san: str, tmp_path: Path) -> None:
    """tests/boot/c/test_ed25519.c: RFC 8032 vectors, FIPS 180 digests, bit
    flips and refusals, built with the core's flags (and sanitizers)."""
    out = tmp_path / "out"
    r = _make(f"{out}/test_ed25519", f"SAN={san}", f"OUT={out}")
    assert r.returncode == 0, r.stderr[-3000:]
    run = subprocess.run([str(out / "test_ed25519")], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert " 0 failed" in run.stdout
    assert "runtime error" not in run.stderr


@pytest.mark.arm
@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")
def test_ed25519_builds_for_cortex_m4f(tmp_path: Path) -> None:
    """Warning-free with the core's flags for the M4F, and self-contained: no
    call outside the two files but memcpy/memset (no libgcc 64-bit division)."""
    objs = []
    for name in ("mf_sha512", "mf_ed25519"):
        obj = tmp_path / f"{name}.o"
        r = subprocess.run(["arm-none-eabi-gcc", "-std=c99", "-O2", "-ffp-contract=off", "-fno-math-errno",
                            "-Wall", "-Wextra", "-Wpedantic", "-Wconversion", "-Wdouble-promotion",
                            "-Werror", "-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16",
                            "-mfloat-abi=hard", f"-I{BOOT}", "-c", str(BOOT / f"{name}.c"), "-o", str(obj)],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert "warning" not in r.stderr.lower()
        objs.append(str(obj))
    nm = subprocess.run(["arm-none-eabi-nm", *objs], capture_output=True, text=True).stdout
    undefined = {ln.split()[-1] for ln in nm.splitlines() if ln.split()[:1] == ["U"]}
    defined = {ln.split()[-1] for ln in nm.splitlines() if len(ln.split()) == 3}
    assert undefined - defined <= {"memcpy", "memset"}, sorted(undefined - defined)
