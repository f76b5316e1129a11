/* mf_crc32.h - CRC-32 as zlib's crc32() (reflected, polynomial 0xEDB88320,
 * initial and final XOR 0xFFFFFFFF), computed incrementally without a table
 * (no static data: the core rules).
 *
 *   uint32_t c = mf_crc32_update(0u, a, n_a);  c = mf_crc32_update(c, b, n_b);
 * gives zlib.crc32(a + b).
 */
#ifndef MF_CRC32_H
#define MF_CRC32_H

#include <stddef.h>
#include <stdint.h>

uint32_t mf_crc32_update(uint32_t crc, const uint8_t *data, size_t len);

#endif /* MF_CRC32_H */
