#!/usr/bin/env bash
# Install the Debian packages myofoc needs beyond Python: the Cortex-M4F
# cross compiler with newlib, and QEMU for processor-in-the-loop tests.
set -euo pipefail
PKGS=(gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm clang)
missing=()
command -v arm-none-eabi-gcc >/dev/null 2>&1 || missing+=(gcc-arm-none-eabi libnewlib-arm-none-eabi)
command -v qemu-system-arm >/dev/null 2>&1 || missing+=(qemu-system-arm)
command -v clang >/dev/null 2>&1 || missing+=(clang)
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "myofoc needs these Debian packages: ${PKGS[*]}" >&2
    echo "install them with: sudo apt-get install ${PKGS[*]}" >&2
    exit 1
fi
echo "installing ${missing[*]} with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
