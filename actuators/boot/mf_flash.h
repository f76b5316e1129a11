/* mf_flash.h - the flash interface the bootloader writes through.
 *
 * The bootloader (mf_boot, mf_uds) never touches flash registers: the
 * caller hands it this struct of callbacks and a context. On the MCU the
 * callbacks drive the flash controller (STM32G4: 2 KiB page erase, 8-byte
 * double-word programming); in the simulator (actuators/sim_flash.py) they
 * write a file-backed image of the whole flash with the same semantics
 * (erase sets a page to 0xFF, programming can only clear bits).
 *
 * Addresses are absolute (e.g. 0x08000000 = start of STM32G4 flash).
 * Every callback returns 0 (MF_OK) on success or a negative code.
 */
#ifndef MF_FLASH_H
#define MF_FLASH_H

#include <stdint.h>

typedef struct {
    /* read len bytes at addr into buf */
    int (*read)(void *ctx, uint32_t addr, uint8_t *buf, uint32_t len);
    /* erase the page that starts at addr (addr is page aligned) */
    int (*erase_page)(void *ctx, uint32_t addr);
    /* program len bytes at addr; addr and len are multiples of prog_bytes,
     * the target bytes are erased (0xFF) */
    int (*program)(void *ctx, uint32_t addr, const uint8_t *buf, uint32_t len);
    void *ctx;
    uint32_t page_bytes;   /* erase unit, bytes (STM32G4: 2048) */
    uint32_t prog_bytes;   /* program unit, bytes, a power of two <= 8 (STM32G4: 8) */
} mf_flash_t;

#endif /* MF_FLASH_H */
