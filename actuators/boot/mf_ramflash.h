/* mf_ramflash.h - flash in a byte buffer, for the simulator and tests.
 *
 * The mf_flash_t callbacks over a caller-owned buffer (in the simulator a
 * file mapped into memory: actuators/sim_flash.py), with the semantics of
 * NOR flash: erase sets a page to 0xFF; programming needs aligned units of
 * prog_bytes, is refused on bytes that are not erased (as STM32's PROGERR)
 * and clears bits (byte &= data). Writes go byte by byte, so a process
 * killed mid-way leaves the buffer as a real flash would be after a power
 * loss: the page partly erased, the unit partly programmed.
 *
 * A power cut can be injected: after budget more erased/programmed bytes
 * the operation stops and every later call fails (dead = 1) until
 * mf_ramflash_power_on().
 */
#ifndef MF_RAMFLASH_H
#define MF_RAMFLASH_H

#include <stdint.h>

#include "mf_flash.h"

typedef struct {
    uint8_t *mem;          /* the buffer: flash bytes [base, base + size) */
    uint32_t base;         /* address of mem[0] (STM32G4: 0x08000000) */
    uint32_t size;         /* bytes, a multiple of page_bytes */
    uint32_t page_bytes;   /* erase unit, bytes, a power of two */
    uint32_t prog_bytes;   /* program unit, bytes, 1, 2, 4 or 8 */
    int64_t budget;        /* bytes left before an injected power cut, -1 = none */
    uint8_t dead;          /* 1 after the cut */
    uint64_t erased;       /* bytes erased since init */
    uint64_t programmed;   /* bytes programmed since init */
} mf_ramflash_t;

/* Check the geometry and fill f; MF_EINVAL for a bad size. */
int mf_ramflash_init(mf_ramflash_t *f, uint8_t *mem, uint32_t base, uint32_t size, uint32_t page_bytes,
                     uint32_t prog_bytes);

/* The callbacks, ctx = the mf_ramflash_t. */
int mf_ramflash_read(void *ctx, uint32_t addr, uint8_t *buf, uint32_t len);
int mf_ramflash_erase_page(void *ctx, uint32_t addr);
int mf_ramflash_program(void *ctx, uint32_t addr, const uint8_t *buf, uint32_t len);

/* The mf_flash_t of f. */
mf_flash_t mf_ramflash_interface(mf_ramflash_t *f);

/* End an injected power cut (budget none, dead 0). */
void mf_ramflash_power_on(mf_ramflash_t *f);

#endif /* MF_RAMFLASH_H */
