"""Speed of the bootloader's Ed25519 verification (actuators/boot/mf_ed25519.c)
and SHA-512 (mf_sha512.c): wall time on this host through the _boot binding
(next to OpenSSL through `cryptography`, for scale), and on the Cortex-M4F
the instruction count, stack depth and code size, by running the
arm-none-eabi-gcc build in unicorn.

    python bench/ed25519_bench.py [--light]

Figures, never pass/fail. Host times are the best of k runs (shared machine).
The M4F figure is instructions, not cycles: on the M4 most of these (32x32
-> 64 multiply-accumulate, ALU) take 1 cycle, loads/stores 1-2, taken
branches 2-4; cycles ~ 1.2-1.5x instructions is a fair guide.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from actuators import _boot  # noqa: E402

BOOT = ROOT / "actuators" / "boot"
FLAGS = ["-std=c99", "-O2", "-ffp-contract=off", "-fno-math-errno", "-Wall", "-Wextra", "-Wpedantic",
         "-Wconversion", "-Wdouble-promotion", "-Werror", "-mcpu=cortex-m4", "-mthumb",
         "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"]
HARNESS = r"""
#include <stddef.h>
#include <stdint.h>
#include "mf_ed25519.h"
void *memcpy(void *d, const void *s, size_t n)
{ unsigned char *a = d; const unsigned char *b = s; while (n--) *a++ = *b++; return d; }
void *memset(void *d, int c, size_t n)
{ unsigned char *a = d; while (n--) *a++ = (unsigned char)c; return d; }
uint8_t bench_sig[64], bench_pub[32], bench_digest[64], bench_msg[65536];
uint32_t bench_len;
int bench_verify(void) { return mf_ed25519_verify(bench_sig, bench_pub, bench_msg, bench_len); }
int bench_sha(void) { mf_sha512(bench_msg, bench_len, bench_digest); return 0; }
"""


def best(fn: Callable[[], object], n: int, k: int) -> float:
    """Best over k runs of the mean time of n calls, s."""
    out = float("inf")
    for _ in range(k):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        out = min(out, (time.perf_counter() - t0) / n)
    return out


def host(light: bool) -> None:
    key = Ed25519PrivateKey.generate()
    pub_raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    pub = key.public_key()
    n, k = (50, 3) if light else (300, 7)
    print(f"host: {os.uname().machine}, Python {sys.version.split()[0]}")
    for size in (0, 65536):
        msg = os.urandom(size)
        sig = key.sign(msg)
        assert _boot.ed25519_verify(sig, pub_raw, msg)
        t_c = best(lambda: _boot.ed25519_verify(sig, pub_raw, msg), n, k)
        t_o = best(lambda: pub.verify(sig, msg), n, k)
        print(f"  verify, {size:6d}-byte message: mf_ed25519 {t_c * 1e6:8.1f} us   "
              f"OpenSSL {t_o * 1e6:7.1f} us   (x{t_c / t_o:.1f})")
    data = os.urandom(1 << 20)
    t = best(lambda: _boot.sha512(data), 3 if light else 10, k)
    print(f"  sha512: {len(data) / t / 1e6:.0f} MB/s")


def m4f(light: bool) -> None:
    if shutil.which("arm-none-eabi-gcc") is None:
        print("m4f: arm-none-eabi-gcc not installed, skipped")
        return
    try:
        from unicorn import UC_ARCH_ARM, UC_HOOK_BLOCK, UC_MODE_MCLASS, UC_MODE_THUMB, Uc
        from unicorn import arm_const as A
    except ImportError:
        print("m4f: unicorn not installed, skipped")
        return
    from firmware_gen.pil import load_elf

    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        (t / "harness.c").write_text(HARNESS)
        objs = []
        for src in (BOOT / "mf_ed25519.c", BOOT / "mf_sha512.c"):
            obj = t / (src.stem + ".o")
            subprocess.run(["arm-none-eabi-gcc", *FLAGS, f"-I{BOOT}", "-c", str(src), "-o", str(obj)],
                           check=True)
            objs.append(obj)
        size = subprocess.run(["arm-none-eabi-size", *map(str, objs)], capture_output=True,
                              text=True, check=True).stdout
        text = sum(int(ln.split()[0]) for ln in size.splitlines()[1:])
        subprocess.run(["arm-none-eabi-gcc", *FLAGS, "-ffreestanding", "-fno-tree-loop-distribute-patterns",
                        f"-I{BOOT}", "-c", str(t / "harness.c"), "-o", str(t / "harness.o")], check=True)
        elf = t / "bench.elf"
        subprocess.run(["arm-none-eabi-gcc", *FLAGS, "-nostdlib", "-nostartfiles", "-Wl,-e,bench_verify",
                        "-Wl,-Ttext=0x08000000", "-Wl,-Tdata=0x20000000", "-Wl,-Tbss=0x20000000",
                        str(t / "harness.o"), *map(str, objs), "-o", str(elf)], check=True)
        image = load_elf(elf)
    flash, ram, ram_size, stop = 0x0800_0000, 0x2000_0000, 256 << 10, 0x0800_0000 + (1 << 20) - 0x100
    uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
    uc.mem_map(flash, 1 << 20)
    uc.mem_map(ram, ram_size)
    for vaddr, data, memsz in image.segments:
        uc.mem_write(vaddr, data + bytes(memsz - len(data)))
    code = bytes(uc.mem_read(flash, 1 << 20))
    counts: dict[tuple[int, int], int] = {}
    total = [0]

    def on_block(_uc: object, address: int, size: int, _: object) -> None:
        n = counts.get((address, size))
        if n is None:  # Thumb: a halfword whose top 5 bits are 11101/11110/11111 starts a 32-bit one
            seg = code[address - flash:address - flash + size]
            i = n = 0
            while i + 1 < len(seg):
                i += 4 if ((seg[i] | seg[i + 1] << 8) >> 11) in (0x1D, 0x1E, 0x1F) else 2
                n += 1
            counts[(address, size)] = n
        total[0] += n

    uc.hook_add(UC_HOOK_BLOCK, on_block)
    sp = ram + ram_size
    stack_fill = 16 << 10

    def call(name: str) -> tuple[int, int, int]:
        uc.mem_write(sp - stack_fill, b"\xa5" * stack_fill)
        uc.reg_write(A.UC_ARM_REG_SP, sp)
        uc.reg_write(A.UC_ARM_REG_LR, stop | 1)
        total[0] = 0
        uc.emu_start(image.sym(name) | 1, stop)
        used = bytes(uc.mem_read(sp - stack_fill, stack_fill))
        depth = stack_fill - next(i for i, b in enumerate(used) if b != 0xA5)
        return int(uc.reg_read(A.UC_ARM_REG_R0)), total[0], depth

    key = Ed25519PrivateKey.generate()
    pub_raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    print(f"m4f (arm-none-eabi-gcc -O2, unicorn): code {text} bytes (.text+.data+.bss of both files)")
    for size in ((0,) if light else (0, 65536)):
        msg = os.urandom(size)
        uc.mem_write(image.sym("bench_msg"), msg)
        uc.mem_write(image.sym("bench_len"), size.to_bytes(4, "little"))
        uc.mem_write(image.sym("bench_pub"), pub_raw)
        uc.mem_write(image.sym("bench_sig"), key.sign(msg))
        rc, n, depth = call("bench_verify")
        assert rc == 0, rc
        print(f"  verify, {size:6d}-byte message: {n / 1e6:.2f} M instructions "
              f"(~{n / 170e6 * 1e3:.0f} ms at 170 MHz if 1 instr/cycle), stack {depth} bytes")
        bad = bytearray(key.sign(msg))
        bad[5] ^= 1
        uc.mem_write(image.sym("bench_sig"), bytes(bad))
        assert call("bench_verify")[0] != 0
    size = 4096 if light else 65536
    uc.mem_write(image.sym("bench_len"), size.to_bytes(4, "little"))
    _, n, _ = call("bench_sha")
    print(f"  sha512: {n / size:.1f} instructions/byte")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--light", action="store_true", help="fewer repetitions")
    args = ap.parse_args()
    host(args.light)
    m4f(args.light)
    return 0


if __name__ == "__main__":
    sys.exit(main())
