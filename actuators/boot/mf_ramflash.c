/* mf_ramflash.c - NOR-flash semantics over a buffer (see mf_ramflash.h). */
#include "mf_ramflash.h"

#include <stddef.h>

#include "mf_err.h"

int mf_ramflash_init(mf_ramflash_t *f, uint8_t *mem, uint32_t base, uint32_t size, uint32_t page_bytes,
                     uint32_t prog_bytes)
{
    if (f == NULL || mem == NULL) {
        return MF_ENULL;
    }
    if (page_bytes == 0u || (page_bytes & (page_bytes - 1u)) != 0u || size == 0u || size % page_bytes != 0u
        || base % page_bytes != 0u || base > 0xFFFFFFFFu - size
        || (prog_bytes != 1u && prog_bytes != 2u && prog_bytes != 4u && prog_bytes != 8u)) {
        return MF_EINVAL;
    }
    f->mem = mem;
    f->base = base;
    f->size = size;
    f->page_bytes = page_bytes;
    f->prog_bytes = prog_bytes;
    f->budget = -1;
    f->dead = 0u;
    f->erased = 0u;
    f->programmed = 0u;
    return MF_OK;
}

static int in_range(const mf_ramflash_t *f, uint32_t addr, uint32_t len)
{
    return addr >= f->base && addr - f->base <= f->size && len <= f->size - (addr - f->base);
}

static int spend(mf_ramflash_t *f)
{
    if (f->dead) {
        return -1;
    }
    if (f->budget == 0) {
        f->dead = 1u;
        return -1;
    }
    if (f->budget > 0) {
        f->budget--;
    }
    return 0;
}

int mf_ramflash_read(void *ctx, uint32_t addr, uint8_t *buf, uint32_t len)
{
    mf_ramflash_t *f = (mf_ramflash_t *)ctx;
    uint32_t i;
    if (f == NULL || buf == NULL || f->dead || !in_range(f, addr, len)) {
        return MF_ERANGE;
    }
    for (i = 0u; i < len; i++) {
        buf[i] = f->mem[addr - f->base + i];
    }
    return MF_OK;
}

int mf_ramflash_erase_page(void *ctx, uint32_t addr)
{
    mf_ramflash_t *f = (mf_ramflash_t *)ctx;
    uint32_t off, i;
    if (f == NULL || !in_range(f, addr, f->page_bytes) || (addr - f->base) % f->page_bytes != 0u) {
        return MF_ERANGE;
    }
    off = addr - f->base;
    for (i = 0u; i < f->page_bytes; i++) {
        if (spend(f) != 0) {
            return MF_ESTATE;
        }
        f->mem[off + i] = 0xFFu;
        f->erased++;
    }
    return MF_OK;
}

int mf_ramflash_program(void *ctx, uint32_t addr, const uint8_t *buf, uint32_t len)
{
    mf_ramflash_t *f = (mf_ramflash_t *)ctx;
    uint32_t off, i;
    if (f == NULL || buf == NULL || !in_range(f, addr, len) || (addr - f->base) % f->prog_bytes != 0u
        || len % f->prog_bytes != 0u) {
        return MF_ERANGE;
    }
    off = addr - f->base;
    for (i = 0u; i < len; i++) {
        if (f->mem[off + i] != 0xFFu) {
            return MF_ESTATE;   /* not erased: refused before anything is written */
        }
    }
    for (i = 0u; i < len; i++) {
        if (spend(f) != 0) {
            return MF_ESTATE;
        }
        f->mem[off + i] &= buf[i];
        f->programmed++;
    }
    return MF_OK;
}

mf_flash_t mf_ramflash_interface(mf_ramflash_t *f)
{
    mf_flash_t i;
    i.read = mf_ramflash_read;
    i.erase_page = mf_ramflash_erase_page;
    i.program = mf_ramflash_program;
    i.ctx = f;
    i.page_bytes = f != NULL ? f->page_bytes : 0u;
    i.prog_bytes = f != NULL ? f->prog_bytes : 0u;
    return i;
}

void mf_ramflash_power_on(mf_ramflash_t *f)
{
    if (f != NULL) {
        f->budget = -1;
        f->dead = 0u;
    }
}
