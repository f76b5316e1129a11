/* mf_crc32.c - table-free CRC-32 (zlib), four bits per step. */
#include "mf_crc32.h"

uint32_t mf_crc32_update(uint32_t crc, const uint8_t *data, size_t len)
{
    /* the 16 entries of the nibble table, as a const local (no static data) */
    const uint32_t nib[16] = {
        0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
        0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
        0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu};
    uint32_t c = ~crc;
    size_t i;
    if (data == NULL) {
        return crc;
    }
    for (i = 0; i < len; i++) {
        c ^= data[i];
        c = (c >> 4) ^ nib[c & 0xFu];
        c = (c >> 4) ^ nib[c & 0xFu];
    }
    return ~c;
}
