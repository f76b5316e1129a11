"""Image signing (firmware_gen/signing.py, docs/spec/image_format.md): keys,
sign/verify with `cryptography`, and the cross-check that every signature it
makes verifies in the bootloader's C verifier (actuators._boot) too.

The signed message is taken from the spec's offsets (header bytes [0, 128) of
the signed file + the payload after byte 512), not from image.py."""
from __future__ import annotations

import os
import random
import stat
import struct
import zlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from actuators import _boot
from actuators.cli import main as myofoc
from firmware_gen.image import ImageError, build_image, read_image
from firmware_gen.signing import (DEV_PRIVATE_KEY, DEV_PUBLIC_KEY, SignatureError, generate_keypair,
                                  load_private_key, load_public_key, sign_image, verify_image)


def make_image(seed: int = 0, n: int = 3000) -> bytes:
    rng = random.Random(seed)
    return build_image(rng.randbytes(n), fw_version="1.2.3", security_counter=rng.randrange(100),
                       board_id=rng.randrange(1, 65536), load_addr=0x0800_6200,
                       build_hash=rng.randbytes(32), version_text=f"1.2.3+t{seed}")


def spec_message(image: bytes) -> bytes:
    """What the spec says the signature covers: header[0:128] + payload."""
    return image[:128] + image[512:]


def refix_crcs(image: bytearray) -> None:
    """Recompute payload and header CRCs after an edit (a forger's best effort)."""
    struct.pack_into("<I", image, 28, zlib.crc32(bytes(image[512:])))
    struct.pack_into("<I", image, 124, zlib.crc32(bytes(image[:124])))


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return generate_keypair(tmp_path_factory.mktemp("keys"), "test")


def test_generate_keypair_files(tmp_path: Path) -> None:
    priv, pub = generate_keypair(tmp_path / "k")
    assert stat.S_IMODE(os.stat(priv).st_mode) == 0o600
    raw = pub.read_bytes()
    assert len(raw) == 32
    key = serialization.load_pem_private_key(priv.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    assert key.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw) == raw
    with pytest.raises(FileExistsError):
        generate_keypair(tmp_path / "k")
    priv2, pub2 = generate_keypair(tmp_path / "k", overwrite=True)
    assert pub2.read_bytes() != raw  # a new key


def test_signed_image_follows_the_spec(keys: tuple[Path, Path]) -> None:
    priv, pub = keys
    unsigned = make_image(1)
    signed = sign_image(unsigned, priv)
    img = read_image(signed)  # header CRC, flags, reserved fields all check
    assert img.header.signed and struct.unpack_from("<I", signed, 96)[0] == 1
    assert signed[512:] == unsigned[512:]
    assert signed[:96] == unsigned[:96] and signed[192:512] == unsigned[192:512]
    assert struct.unpack_from("<I", signed, 124)[0] == zlib.crc32(signed[:124])
    sig = signed[128:192]
    Ed25519PublicKey.from_public_bytes(pub.read_bytes()).verify(sig, spec_message(signed))
    assert _boot.ed25519_verify(sig, pub.read_bytes(), spec_message(signed))
    assert verify_image(signed, pub).header == img.header


def test_signatures_verify_in_the_c_verifier(tmp_path: Path) -> None:
    """Cross-check: 60 images of random sizes under 6 keys, signed by
    signing.py, all verify in mf_ed25519.c; each under another key does not."""
    pairs = [generate_keypair(tmp_path, f"k{i}") for i in range(6)]
    rng = random.Random(5)
    for i in range(60):
        priv, pub = pairs[i % 6]
        other = pairs[(i + 1) % 6][1].read_bytes()
        signed = sign_image(make_image(i, rng.choice([1, 7, 128, 1000, rng.randrange(1, 70000)])), priv)
        msg, sig = spec_message(signed), signed[128:192]
        assert _boot.ed25519_verify(sig, pub.read_bytes(), msg), i
        assert not _boot.ed25519_verify(sig, other, msg), i


def test_resigning_replaces_the_signature(keys: tuple[Path, Path], tmp_path: Path) -> None:
    priv, pub = keys
    priv2, pub2 = generate_keypair(tmp_path, "second")
    twice = sign_image(sign_image(make_image(2), priv), priv2)
    verify_image(twice, pub2)
    with pytest.raises(SignatureError):
        verify_image(twice, pub)


def test_verify_refuses(keys: tuple[Path, Path], tmp_path: Path) -> None:
    priv, pub = keys
    signed = sign_image(make_image(3), priv)
    _, wrong = generate_keypair(tmp_path, "wrong")
    with pytest.raises(SignatureError, match="does not verify"):
        verify_image(signed, wrong)
    with pytest.raises(SignatureError, match="not signed"):
        verify_image(make_image(3), pub)
    # a changed payload with both CRCs fixed up passes read_image but not the signature
    for where in (512, 600, len(signed) - 1, 8, 12, 16, 20):  # payload, fw_version, counter, board, load
        forged = bytearray(signed)
        forged[where] ^= 0x01
        refix_crcs(forged)
        read_image(bytes(forged))
        with pytest.raises(SignatureError):
            verify_image(bytes(forged), pub)
        assert not _boot.ed25519_verify(forged[128:192], pub.read_bytes(), spec_message(bytes(forged)))
    # a changed byte without CRC fix-up is refused by the reader already
    corrupt = bytearray(signed)
    corrupt[700] ^= 0x80
    with pytest.raises(ImageError, match="payload_crc32"):
        verify_image(bytes(corrupt), pub)


def test_dev_key_pair_matches() -> None:
    key = load_private_key(DEV_PRIVATE_KEY)
    assert load_public_key(DEV_PRIVATE_KEY) == DEV_PUBLIC_KEY.read_bytes()
    assert len(DEV_PUBLIC_KEY.read_bytes()) == 32
    assert "DEV ONLY" in (DEV_PUBLIC_KEY.parent / "README.md").read_text()
    signed = sign_image(make_image(4), key)
    verify_image(signed, DEV_PUBLIC_KEY)


def test_load_public_key_formats(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    pem = tmp_path / "p.pem"
    pem.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    assert load_public_key(pem) == raw
    bad = tmp_path / "bad.pub"
    bad.write_bytes(b"x" * 31)
    with pytest.raises(ValueError):
        load_public_key(bad)


def test_cli_keys_sign_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = tmp_path / "a.mfw"
    img.write_bytes(make_image(6))
    assert myofoc(["keys", "new", "--out", str(tmp_path / "k")]) == 0
    assert myofoc(["keys", "new", "--out", str(tmp_path / "k")]) == 2  # refuses to overwrite
    priv, pub = tmp_path / "k" / "ed25519.pem", tmp_path / "k" / "ed25519.pub"
    assert myofoc(["verify", str(img), "--pub", str(pub)]) == 1  # unsigned
    assert myofoc(["sign", str(img), "--key", str(priv), "-o", str(tmp_path / "s.mfw")]) == 0
    assert myofoc(["verify", str(tmp_path / "s.mfw"), "--pub", str(pub)]) == 0
    assert "C verifier agrees" in capsys.readouterr().out
    assert myofoc(["sign", str(img), "--key", str(priv)]) == 0  # in place
    assert read_image(img.read_bytes()).header.signed
    assert myofoc(["verify", str(img), "--pub", str(DEV_PUBLIC_KEY)]) == 1  # wrong key
    forged = bytearray(img.read_bytes())
    forged[513] ^= 1
    refix_crcs(forged)
    img.write_bytes(bytes(forged))
    assert myofoc(["verify", str(img), "--pub", str(pub)]) == 1
    assert "REFUSED" in capsys.readouterr().err
    assert myofoc(["verify", str(tmp_path / "missing.mfw"), "--pub", str(pub)]) == 2
    assert myofoc(["sign", str(tmp_path / "missing.mfw"), "--key", str(priv)]) == 2
    (tmp_path / "junk.mfw").write_bytes(b"junk" * 200)
    assert myofoc(["sign", str(tmp_path / "junk.mfw"), "--key", str(priv)]) == 2
