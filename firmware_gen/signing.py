"""Ed25519 signing of firmware images (docs/spec/image_format.md, docs/signing.md).

The signature (RFC 8032, pure Ed25519) covers header bytes [0, 128) of the
*signed* image (flag bit 0 set, header CRC over that) followed by the
payload; it is stored at header offset 128 and the header CRC is updated.
The host signs with the ``cryptography`` package; the bootloader checks with
its own C verifier (actuators/boot/mf_ed25519.c), which the tests cross-check.

Key files: the private key is a PKCS#8 PEM (mode 0600, unencrypted unless a
password is given), the public key the raw 32 bytes (``.pub``), which is also
what the bootloader embeds.
"""
from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from firmware_gen.image import Image, ImageError, read_image

__all__ = [
    "DEV_PRIVATE_KEY", "DEV_PUBLIC_KEY", "PUBLIC_KEY_BYTES", "SignatureError", "generate_keypair", "load_private_key",
    "load_public_key", "public_key_bytes", "sign_image", "verify_image",
]

PUBLIC_KEY_BYTES = 32
# The development key pair (DEV ONLY: its private half is in the repository).
DEV_PRIVATE_KEY = Path(__file__).resolve().parent / "keys" / "dev_ed25519.pem"
DEV_PUBLIC_KEY = Path(__file__).resolve().parent / "keys" / "dev_ed25519.pub"


class SignatureError(ImageError):
    """An image whose signature is missing or does not verify (field ``signature``)."""

    def __init__(self, message: str) -> None:
        super().__init__("signature", message)


def public_key_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The raw 32-byte public key (RFC 8032 encoding) of a private or public key."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def generate_keypair(directory: str | Path, name: str = "ed25519", *,
                     overwrite: bool = False) -> tuple[Path, Path]:
    """Make a new key pair in ``directory``: ``<name>.pem`` (private, PKCS#8 PEM,
    mode 0600) and ``<name>.pub`` (the raw 32-byte public key). Returns both
    paths; FileExistsError if either exists and ``overwrite`` is false."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    priv_path, pub_path = out / f"{name}.pem", out / f"{name}.pub"
    if not overwrite:
        for p in (priv_path, pub_path):
            if p.exists():
                raise FileExistsError(f"{p} exists (refusing to overwrite a key)")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    # created 0600 from the start: the key is never readable by others, not even briefly
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(priv_path, flags, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.chmod(priv_path, 0o600)
    pub_path.write_bytes(public_key_bytes(key))
    return priv_path, pub_path


def load_private_key(path: str | Path, password: bytes | None = None) -> Ed25519PrivateKey:
    """An Ed25519 private key from a PEM file (PKCS#8); ValueError otherwise."""
    data = Path(path).read_bytes()
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{path}: not a PEM private key ({e})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 key ({type(key).__name__})")
    return key


def load_public_key(path: str | Path) -> bytes:
    """The raw 32-byte public key from a ``.pub`` file (raw bytes), a PEM public
    key, or a PEM private key (its public half)."""
    data = Path(path).read_bytes()
    if len(data) == PUBLIC_KEY_BYTES:
        return data
    if b"PRIVATE KEY" in data:
        return public_key_bytes(load_private_key(path))
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise ValueError(f"{path}: neither a raw 32-byte Ed25519 public key nor a PEM key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path}: not an Ed25519 key ({type(key).__name__})")
    return public_key_bytes(key)


def sign_image(image_bytes: bytes, private_key_path: str | Path | Ed25519PrivateKey) -> bytes:
    """The image, checked by ``read_image`` first, signed with the key (a PEM
    path or a key object): flag bit 0 set, signature at offset 128, header CRC
    updated. An already signed image is re-signed (the old signature replaced)."""
    image = read_image(image_bytes)
    key = (private_key_path if isinstance(private_key_path, Ed25519PrivateKey)
           else load_private_key(private_key_path))
    return image.with_signature(key.sign(image.signed_bytes()))


def verify_image(image_bytes: bytes, pub_path: str | Path | bytes) -> Image:
    """Check an image (``read_image``) and its signature against the public key
    (a file path, or the raw 32 bytes). Returns the Image; raises ImageError
    (a SignatureError when unsigned or the signature does not verify)."""
    image = read_image(image_bytes)
    pub = bytes(pub_path) if isinstance(pub_path, (bytes, bytearray)) else load_public_key(pub_path)
    if len(pub) != PUBLIC_KEY_BYTES:
        raise ValueError(f"public key must be {PUBLIC_KEY_BYTES} bytes, got {len(pub)}")
    if not image.header.signed:
        raise SignatureError("the image is not signed (flag bit 0 clear)")
    try:
        Ed25519PublicKey.from_public_bytes(pub).verify(image.header.signature, image.signed_bytes())
    except InvalidSignature:
        raise SignatureError("does not verify with this public key "
                             "(wrong key, or the image was changed after signing)") from None
    return image
