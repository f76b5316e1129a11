"""``myofoc keys new``, ``myofoc sign``, ``myofoc verify``: Ed25519 keys and
image signatures (firmware_gen/signing.py), and ``myofoc sim rom`` (the
simulated STM32 ROM bootloader, firmware_gen/recovery/cli.py).

Exit codes: 0 success, 1 a check failed (signature or image refused),
2 bad usage or bad input (missing file, unreadable key, image that cannot be signed).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "cmd_keys_new", "cmd_sign", "cmd_verify"]


def cmd_keys_new(args: argparse.Namespace) -> int:
    from firmware_gen.signing import generate_keypair

    try:
        priv, pub = generate_keypair(args.out, args.name, overwrite=args.force)
    except (FileExistsError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"private key {priv} (mode 0600: keep it secret, off the repository)")
    print(f"public key  {pub} ({pub.read_bytes().hex()})")
    return 0


def cmd_sign(args: argparse.Namespace) -> int:
    from firmware_gen.image import read_image
    from firmware_gen.signing import sign_image

    src = Path(args.image)
    out = Path(args.output) if args.output else src
    try:
        signed = sign_image(src.read_bytes(), args.key)
    except (OSError, ValueError) as e:  # ImageError is a ValueError
        print(f"error: {src}: {e}", file=sys.stderr)
        return 2
    out.write_bytes(signed)
    h = read_image(signed).header
    print(f"signed {out}: {h.version_text or h.fw_version_text}, board 0x{h.board_id:08x}, "
          f"counter {h.security_counter}, {h.payload_bytes} payload bytes")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from firmware_gen.image import ImageError
    from firmware_gen.signing import load_public_key, verify_image

    try:
        data = Path(args.image).read_bytes()
        pub = load_public_key(args.pub)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        image = verify_image(data, pub)
    except ImageError as e:
        print(f"REFUSED {args.image}: {e}", file=sys.stderr)
        return 1
    # the bootloader's own C verifier must agree (when the extension is built)
    try:
        from actuators import _boot
    except ImportError:
        c_note = "C verifier not built"
    else:
        code = _boot.ed25519_verify_code(image.header.signature, pub, image.signed_bytes())
        if code != 0:
            print(f"REFUSED {args.image}: the bootloader's verifier says "
                  f"{_boot.ED25519_ERRORS.get(code, code)}", file=sys.stderr)
            return 1
        c_note = "C verifier agrees"
    h = image.header
    print(f"OK {args.image}: signature valid ({c_note}); {h.version_text or h.fw_version_text}, "
          f"board 0x{h.board_id:08x}, counter {h.security_counter}, load 0x{h.load_addr:08x}")
    return 0


def add_parser(sub: Any) -> None:
    """Add ``keys new``, ``sign``, ``verify`` (and ``sim rom``) to the myofoc subcommands."""
    fmt = argparse.RawDescriptionHelpFormatter
    k = sub.add_parser("keys", help="Ed25519 signing keys",
                       description="Signing keys for firmware images (docs/signing.md).")
    ksub = k.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    kn = ksub.add_parser(
        "new", help="make a key pair: NAME.pem (private, 0600) and NAME.pub (raw 32 bytes)",
        description="Generate an Ed25519 key pair: DIR/NAME.pem (PKCS#8 PEM, mode 0600) and "
                    "DIR/NAME.pub (the raw 32-byte public key the bootloader embeds). Refuses to "
                    "overwrite existing files without --force. Exit 2: files exist or DIR unwritable.",
        epilog="example:\n  myofoc keys new --out ~/myofoc-keys", formatter_class=fmt)
    kn.add_argument("--out", required=True, help="directory for the key files")
    kn.add_argument("--name", default="ed25519", help="file name stem (default: %(default)s)")
    kn.add_argument("--force", action="store_true", help="overwrite existing key files")
    kn.set_defaults(func=cmd_keys_new)

    s = sub.add_parser(
        "sign", help="sign a firmware image (.mfw) with an Ed25519 private key",
        description="Check IMAGE (every header field, CRCs) and sign it: Ed25519 over header bytes "
                    "[0, 128) and the payload, signature at offset 128, flag bit 0 set, header CRC "
                    "updated. Writes OUT (default: IMAGE in place). Exit 2: unreadable image or key.",
        epilog="examples:\n  myofoc sign build/arm_48v-a.mfw --key ~/myofoc-keys/ed25519.pem\n"
               "  myofoc sign app.mfw --key firmware_gen/keys/dev_ed25519.pem -o app-signed.mfw",
        formatter_class=fmt)
    s.add_argument("image", help="image file (.mfw)")
    s.add_argument("--key", required=True, help="private key (PEM)")
    s.add_argument("-o", "--output", default=None, help="output file (default: overwrite IMAGE)")
    s.set_defaults(func=cmd_sign)

    v = sub.add_parser(
        "verify", help="check a firmware image and its signature against a public key",
        description="Check IMAGE (header, CRCs) and its Ed25519 signature with the public key, with "
                    "the `cryptography` package and with the bootloader's C verifier. "
                    "Exit 0: valid; 1: refused (unsigned, wrong key, altered); 2: unreadable input.",
        epilog="example:\n  myofoc verify build/arm_48v-a.mfw --pub ~/myofoc-keys/ed25519.pub",
        formatter_class=fmt)
    v.add_argument("image", help="image file (.mfw)")
    v.add_argument("--pub", required=True, help="public key: raw 32-byte .pub, or a PEM key")
    v.set_defaults(func=cmd_verify)

    from firmware_gen.recovery.cli import add_parser as _add_recovery
    _add_recovery(sub)
