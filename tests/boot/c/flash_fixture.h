/* flash_fixture.h - a RAM flash for the bootloader's C tests, with power cuts.
 *
 * Flash at FX_FLASH_BASE, 0xA000 bytes: boot-record pages at +0x1000 and
 * +0x1800, slot A at +0x2000, slot B at +0x6000 (16 KiB each), 2 KiB pages,
 * 8-byte programming. Semantics of real NOR flash: erase sets a page to
 * 0xFF, programming can only clear bits (byte &= data) and is refused on
 * bytes that are not erased. A power cut after `budget` more bytes of
 * erase/program stops the operation mid-way (that page partly erased, that
 * unit partly programmed) and fails every later call until fx_power_on().
 */
#ifndef FLASH_FIXTURE_H
#define FLASH_FIXTURE_H

#include <stdint.h>
#include <string.h>

#include "fixture_images.h"
#include "mf_boot.h"

#define FX_SIZE 0xA000u
#define FX_PAGE 2048u

typedef struct {
    uint8_t mem[FX_SIZE];
    long budget;          /* bytes left before the power cut, -1 = no cut */
    int dead;             /* 1 after the cut */
    unsigned long used;   /* bytes erased + programmed so far */
} fx_flash_t;

static int fx_spend(fx_flash_t *f)
{
    if (f->dead) {
        return -1;
    }
    if (f->budget == 0) {
        f->dead = 1;
        return -1;
    }
    if (f->budget > 0) {
        f->budget--;
    }
    f->used++;
    return 0;
}

static int fx_read(void *ctx, uint32_t addr, uint8_t *buf, uint32_t len)
{
    fx_flash_t *f = (fx_flash_t *)ctx;
    if (f->dead || addr < FX_FLASH_BASE || addr - FX_FLASH_BASE > FX_SIZE || len > FX_SIZE - (addr - FX_FLASH_BASE)) {
        return -1;
    }
    memcpy(buf, f->mem + (addr - FX_FLASH_BASE), len);
    return 0;
}

static int fx_erase(void *ctx, uint32_t addr)
{
    fx_flash_t *f = (fx_flash_t *)ctx;
    uint32_t off = addr - FX_FLASH_BASE, i;
    if (addr < FX_FLASH_BASE || off % FX_PAGE != 0u || off >= FX_SIZE) {
        return -1;
    }
    for (i = 0; i < FX_PAGE; i++) {
        if (fx_spend(f) != 0) {
            return -1;
        }
        f->mem[off + i] = 0xFF;
    }
    return 0;
}

static int fx_program(void *ctx, uint32_t addr, const uint8_t *buf, uint32_t len)
{
    fx_flash_t *f = (fx_flash_t *)ctx;
    uint32_t off = addr - FX_FLASH_BASE, i;
    if (addr < FX_FLASH_BASE || off % 8u != 0u || len % 8u != 0u || off > FX_SIZE || len > FX_SIZE - off) {
        return -1;
    }
    for (i = 0; i < len; i++) {
        if (f->mem[off + i] != 0xFF) {
            return -1;   /* programming a non-erased double word: refused (as STM32 PROGERR) */
        }
    }
    for (i = 0; i < len; i++) {
        if (fx_spend(f) != 0) {
            return -1;
        }
        f->mem[off + i] &= buf[i];
    }
    return 0;
}

static void fx_power_on(fx_flash_t *f)
{
    f->dead = 0;
    f->budget = -1;
}

static void fx_init(fx_flash_t *f)
{
    memset(f->mem, 0xFF, sizeof(f->mem));
    f->used = 0;
    fx_power_on(f);
}

static mf_boot_config_t fx_boot_config(fx_flash_t *f)
{
    mf_boot_config_t c;
    memset(&c, 0, sizeof(c));
    c.flash.read = fx_read;
    c.flash.erase_page = fx_erase;
    c.flash.program = fx_program;
    c.flash.ctx = f;
    c.flash.page_bytes = FX_PAGE;
    c.flash.prog_bytes = 8u;
    c.slot_addr[0] = FX_SLOT_A;
    c.slot_addr[1] = FX_SLOT_B;
    c.slot_bytes = FX_SLOT_BYTES;
    c.record_addr[0] = FX_FLASH_BASE + 0x1000u;
    c.record_addr[1] = FX_FLASH_BASE + 0x1800u;
    c.board_id = FX_BOARD;
    memcpy(c.pubkey, fx_pub, 32);
    c.require_signature = 1u;
    return c;
}

static const fx_image_t *fx_find(const char *name)
{
    size_t i;
    for (i = 0; i < FX_N_IMAGES; i++) {
        if (strcmp(fx_images[i].name, name) == 0) {
            return &fx_images[i];
        }
    }
    return NULL;
}

/* The whole image (512-byte header + payload) into out; returns its length. */
static uint32_t fx_image_bytes(const fx_image_t *im, uint8_t *out)
{
    uint32_t i;
    memset(out, 0, 512);
    memcpy(out, im->head, sizeof(im->head));
    for (i = 0; i < im->payload_bytes; i++) {
        out[512 + i] = (uint8_t)((i * 7u + im->seed) & 0xFFu);
    }
    return 512u + im->payload_bytes;
}

/* Put an image straight into flash (as a factory programmer would). */
static void fx_place(fx_flash_t *f, const fx_image_t *im)
{
    uint8_t buf[FX_SLOT_BYTES];
    uint32_t n = fx_image_bytes(im, buf);
    memcpy(f->mem + (im->slot_addr - FX_FLASH_BASE), buf, n);
}

#endif /* FLASH_FIXTURE_H */
