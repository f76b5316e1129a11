/* mf_boot.c - A/B slots, boot record, image checks (see mf_boot.h). */
#include "mf_boot.h"

#include <stddef.h>
#include <string.h>

#include "mf_crc32.h"
#include "mf_err.h"

#define CHUNK 256u   /* bytes read from flash at a time (stack buffer) */

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static int flash_read(const mf_boot_config_t *c, uint32_t addr, uint8_t *buf, uint32_t len)
{
    return c->flash.read(c->flash.ctx, addr, buf, len) == 0 ? MF_OK : MF_BOOT_EFLASH;
}

/* ---- boot record ------------------------------------------------------- */

static void record_pack(const mf_boot_record_t *r, uint8_t out[MF_BOOT_RECORD_BYTES])
{
    memset(out, 0, MF_BOOT_RECORD_BYTES);
    wr32(out, MF_BOOT_RECORD_MAGIC);
    wr32(out + 4, r->seq);
    out[8] = r->active_slot;
    out[9] = r->pending_slot;
    out[10] = r->trial;
    wr32(out + 12, r->security_counter);
    memcpy(out + 16, r->serial, MF_BOOT_SERIAL_BYTES);
    wr32(out + 60, mf_crc32_update(0u, out, 60u));
}

static bool slot_ok(uint8_t s)
{
    return s == MF_BOOT_SLOT_A || s == MF_BOOT_SLOT_B || s == MF_BOOT_NO_SLOT;
}

static bool record_unpack(const uint8_t in[MF_BOOT_RECORD_BYTES], mf_boot_record_t *r)
{
    if (rd32(in) != MF_BOOT_RECORD_MAGIC || rd32(in + 60) != mf_crc32_update(0u, in, 60u)
        || !slot_ok(in[8]) || !slot_ok(in[9]) || in[10] > 1u) {
        return false;
    }
    r->seq = rd32(in + 4);
    r->active_slot = in[8];
    r->pending_slot = in[9];
    r->trial = in[10];
    r->security_counter = rd32(in + 12);
    memcpy(r->serial, in + 16, MF_BOOT_SERIAL_BYTES);
    return true;
}

static void record_load(mf_boot_t *b, const mf_boot_config_t *c)
{
    uint8_t raw[MF_BOOT_RECORD_BYTES];
    mf_boot_record_t r[2];
    bool ok[2];
    int i;
    for (i = 0; i < 2; i++) {
        ok[i] = flash_read(c, c->record_addr[i], raw, MF_BOOT_RECORD_BYTES) == MF_OK
                && record_unpack(raw, &r[i]);
    }
    if (ok[0] && (!ok[1] || r[0].seq >= r[1].seq)) {
        b->rec = r[0];
        b->rec_copy = 0;
    } else if (ok[1]) {
        b->rec = r[1];
        b->rec_copy = 1;
    } else {
        memset(&b->rec, 0, sizeof(b->rec));
        b->rec.active_slot = MF_BOOT_NO_SLOT;
        b->rec.pending_slot = MF_BOOT_NO_SLOT;
        b->rec_copy = -1;
    }
}

/* Write rec as the next record into the copy that does not hold the current one. */
static int record_write(mf_boot_t *b, const mf_boot_config_t *c, mf_boot_record_t rec)
{
    uint8_t raw[MF_BOOT_RECORD_BYTES], back[MF_BOOT_RECORD_BYTES];
    int target = b->rec_copy == 0 ? 1 : 0;
    uint32_t addr = c->record_addr[target];
    rec.seq = b->rec_copy < 0 ? 1u : b->rec.seq + 1u;
    record_pack(&rec, raw);
    if (c->flash.erase_page(c->flash.ctx, addr) != 0
        || c->flash.program(c->flash.ctx, addr, raw, MF_BOOT_RECORD_BYTES) != 0
        || flash_read(c, addr, back, MF_BOOT_RECORD_BYTES) != MF_OK
        || memcmp(raw, back, MF_BOOT_RECORD_BYTES) != 0) {
        return MF_BOOT_EFLASH;
    }
    b->rec = rec;
    b->rec_copy = (int8_t)target;
    return MF_OK;
}

/* ---- config, init ------------------------------------------------------ */

static bool overlap(uint32_t a, uint32_t alen, uint32_t b, uint32_t blen)
{
    return a < b + blen && b < a + alen;
}

int mf_boot_init(mf_boot_t *b, const mf_boot_config_t *c)
{
    uint32_t pg;
    int i;
    if (b == NULL || c == NULL || c->flash.read == NULL || c->flash.erase_page == NULL
        || c->flash.program == NULL) {
        return MF_ENULL;
    }
    pg = c->flash.page_bytes;
    if (pg < MF_BOOT_RECORD_BYTES || (pg & (pg - 1u)) != 0u || c->flash.prog_bytes == 0u
        || c->flash.prog_bytes > 8u || (c->flash.prog_bytes & (c->flash.prog_bytes - 1u)) != 0u
        || c->slot_bytes <= MF_BOOT_HEADER_BYTES || c->slot_bytes % pg != 0u) {
        return MF_EINVAL;
    }
    for (i = 0; i < 2; i++) {
        if (c->slot_addr[i] % pg != 0u || c->record_addr[i] % pg != 0u
            || c->slot_addr[i] > 0xFFFFFFFFu - c->slot_bytes || c->record_addr[i] > 0xFFFFFFFFu - pg) {
            return MF_EINVAL;
        }
    }
    if (overlap(c->slot_addr[0], c->slot_bytes, c->slot_addr[1], c->slot_bytes)
        || overlap(c->record_addr[0], pg, c->record_addr[1], pg)) {
        return MF_EINVAL;
    }
    for (i = 0; i < 2; i++) {
        if (overlap(c->record_addr[i], pg, c->slot_addr[0], c->slot_bytes)
            || overlap(c->record_addr[i], pg, c->slot_addr[1], c->slot_bytes)) {
            return MF_EINVAL;
        }
    }
    memset(b, 0, sizeof(*b));
    b->running_slot = MF_BOOT_NO_SLOT;
    b->erase_slot = MF_BOOT_NO_SLOT;
    b->erased_slot = MF_BOOT_NO_SLOT;
    b->write_slot = MF_BOOT_NO_SLOT;
    b->check_slot = MF_BOOT_NO_SLOT;
    b->check_done_slot = MF_BOOT_NO_SLOT;
    record_load(b, c);
    return MF_OK;
}

/* ---- image header ------------------------------------------------------ */

/* Checks of the signed header part (bytes [0, 128)) that need no payload. */
static int header_check(const mf_boot_config_t *c, uint8_t slot, const uint8_t *h, uint32_t min_counter,
                        bool check_counter)
{
    uint32_t i, plen, flags;
    bool any_sig = false;
    if (rd32(h) != MF_BOOT_IMAGE_MAGIC || (h[4] | (h[5] << 8)) != 1 || (h[6] | (h[7] << 8)) != 512
        || rd32(h + 124) != mf_crc32_update(0u, h, 124u)) {
        return MF_BOOT_EHEADER;
    }
    for (i = 100u; i < 124u; i++) {
        if (h[i] != 0u) {
            return MF_BOOT_EHEADER;
        }
    }
    flags = rd32(h + 96);
    if ((flags & ~1u) != 0u) {
        return MF_BOOT_EHEADER;
    }
    if (rd32(h + 20) != c->slot_addr[slot] + MF_BOOT_HEADER_BYTES) {
        return MF_BOOT_ELOADADDR;
    }
    plen = rd32(h + 24);
    if (plen == 0u || plen > c->slot_bytes - MF_BOOT_HEADER_BYTES) {
        return MF_BOOT_ELENGTH;
    }
    if (rd32(h + 16) != c->board_id) {
        return MF_BOOT_EBOARD;
    }
    if (check_counter && rd32(h + 12) < min_counter) {
        return MF_BOOT_ECOUNTER;
    }
    for (i = 128u; i < 192u; i++) {
        any_sig = any_sig || h[i] != 0u;
    }
    if (any_sig != ((flags & 1u) != 0u)) {
        return MF_BOOT_EHEADER;
    }
    if (!any_sig && c->require_signature) {
        return MF_BOOT_EUNSIGNED;
    }
    return MF_OK;
}

static void info_from_header(const uint8_t *h, mf_boot_image_info_t *info)
{
    info->valid = 1u;
    info->fw_version = rd32(h + 8);
    info->security_counter = rd32(h + 12);
    info->board_id = rd32(h + 16);
    info->payload_bytes = rd32(h + 24);
    memcpy(info->version_text, h + 64, MF_BOOT_TEXT_BYTES);
}

int mf_boot_image_info(const mf_boot_config_t *c, uint8_t slot, mf_boot_image_info_t *info)
{
    uint8_t h[192];
    if (c == NULL || info == NULL) {
        return MF_ENULL;
    }
    memset(info, 0, sizeof(*info));
    if (slot > 1u) {
        return MF_ERANGE;
    }
    if (flash_read(c, c->slot_addr[slot], h, sizeof(h)) != MF_OK) {
        return MF_BOOT_EFLASH;
    }
    if (rd32(h) != MF_BOOT_IMAGE_MAGIC || rd32(h + 124) != mf_crc32_update(0u, h, 124u)) {
        return MF_BOOT_EHEADER;
    }
    info_from_header(h, info);
    return MF_OK;
}

/* ---- checking ------------------------------------------------------------ */

int mf_boot_check_begin(mf_boot_t *b, const mf_boot_config_t *c, uint8_t slot)
{
    uint8_t h[192];
    int rc;
    if (b == NULL || c == NULL) {
        return MF_ENULL;
    }
    b->check_slot = MF_BOOT_NO_SLOT;
    b->check_done_slot = MF_BOOT_NO_SLOT;
    if (slot > 1u) {
        return MF_ERANGE;
    }
    if (flash_read(c, c->slot_addr[slot], h, sizeof(h)) != MF_OK) {
        return MF_BOOT_EFLASH;
    }
    rc = header_check(c, slot, h, b->rec.security_counter, true);
    if (rc != MF_OK) {
        return rc;
    }
    memcpy(b->check_hdr, h, MF_BOOT_SIGNED_BYTES);
    b->check_signed = (uint8_t)(rd32(h + 96) & 1u);
    b->check_pos = 0u;
    b->check_crc = 0u;
    if (b->check_signed) {
        if (mf_ed25519_verify_begin(&b->verify, h + 128, c->pubkey) != 0) {
            return MF_BOOT_ESIGNATURE;
        }
        mf_ed25519_verify_update(&b->verify, h, MF_BOOT_SIGNED_BYTES);
    }
    b->check_slot = slot;
    return MF_OK;
}

int mf_boot_check_step(mf_boot_t *b, const mf_boot_config_t *c, uint32_t max_bytes)
{
    uint8_t buf[CHUNK];
    uint32_t plen, n, done = 0u;
    uint8_t slot;
    if (b == NULL || c == NULL) {
        return MF_ENULL;
    }
    slot = b->check_slot;
    if (slot > 1u) {
        return MF_ESTATE;
    }
    plen = rd32(b->check_hdr + 24);
    while (b->check_pos < plen && done < max_bytes) {
        n = plen - b->check_pos;
        if (n > CHUNK) {
            n = CHUNK;
        }
        if (flash_read(c, c->slot_addr[slot] + MF_BOOT_HEADER_BYTES + b->check_pos, buf, n) != MF_OK) {
            b->check_slot = MF_BOOT_NO_SLOT;
            return MF_BOOT_EFLASH;
        }
        b->check_crc = mf_crc32_update(b->check_crc, buf, n);
        if (b->check_signed) {
            mf_ed25519_verify_update(&b->verify, buf, n);
        }
        b->check_pos += n;
        done += n;
    }
    if (b->check_pos < plen) {
        return 1;
    }
    b->check_slot = MF_BOOT_NO_SLOT;
    if (b->check_crc != rd32(b->check_hdr + 28)) {
        return MF_BOOT_ECRC;
    }
    if (b->check_signed && mf_ed25519_verify_end(&b->verify) != 0) {
        return MF_BOOT_ESIGNATURE;
    }
    b->check_done_slot = slot;
    return MF_OK;
}

/* The whole check at once (boot-time adoption of an image). */
static int check_full(mf_boot_t *b, const mf_boot_config_t *c, uint8_t slot)
{
    int rc = mf_boot_check_begin(b, c, slot);
    while (rc == MF_OK || rc == 1) {
        rc = mf_boot_check_step(b, c, 0xFFFFFFFFu);
        if (rc == MF_OK) {
            return MF_OK;
        }
    }
    return rc;
}

/* Header (no counter, no signature) and payload CRC: the check of every boot. */
static int check_crc_only(const mf_boot_config_t *c, uint8_t slot, mf_boot_image_info_t *info)
{
    uint8_t h[192], buf[CHUNK];
    uint32_t plen, pos, n, crc = 0u;
    int rc;
    if (flash_read(c, c->slot_addr[slot], h, sizeof(h)) != MF_OK) {
        return MF_BOOT_EFLASH;
    }
    rc = header_check(c, slot, h, 0u, false);
    if (rc != MF_OK) {
        return rc;
    }
    plen = rd32(h + 24);
    for (pos = 0u; pos < plen; pos += n) {
        n = plen - pos < CHUNK ? plen - pos : CHUNK;
        if (flash_read(c, c->slot_addr[slot] + MF_BOOT_HEADER_BYTES + pos, buf, n) != MF_OK) {
            return MF_BOOT_EFLASH;
        }
        crc = mf_crc32_update(crc, buf, n);
    }
    if (crc != rd32(h + 28)) {
        return MF_BOOT_ECRC;
    }
    info_from_header(h, info);
    return MF_OK;
}

/* ---- reset logic ---------------------------------------------------------- */

static int boot_slot(mf_boot_t *b, uint8_t slot, uint8_t trial, const mf_boot_image_info_t *info)
{
    b->running_slot = slot;
    b->trial_boot = trial;
    b->running = *info;
    return (int)slot;
}

int mf_boot_select(mf_boot_t *b, const mf_boot_config_t *c)
{
    mf_boot_record_t r;
    mf_boot_image_info_t info;
    uint8_t s;
    if (b == NULL || c == NULL) {
        return MF_ENULL;
    }
    record_load(b, c);
    b->running_slot = MF_BOOT_NO_SLOT;
    b->trial_boot = 0u;
    memset(&b->running, 0, sizeof(b->running));
    b->erase_slot = b->erased_slot = b->write_slot = b->check_slot = b->check_done_slot = MF_BOOT_NO_SLOT;
    r = b->rec;
    s = r.pending_slot;
    if (s != MF_BOOT_NO_SLOT) {
        if (r.trial == 0u && s != r.active_slot && check_crc_only(c, s, &info) == MF_OK) {
            r.trial = 1u;
            if (record_write(b, c, r) == MF_OK) {
                return boot_slot(b, s, 1u, &info);
            }
        }
        /* the trial was used up without a confirm, or the image is damaged: roll back */
        r = b->rec;
        r.pending_slot = MF_BOOT_NO_SLOT;
        r.trial = 0u;
        (void)record_write(b, c, r);   /* a failed write repeats at the next reset */
    }
    s = b->rec.active_slot;
    if (s != MF_BOOT_NO_SLOT && check_crc_only(c, s, &info) == MF_OK) {
        return boot_slot(b, s, 0u, &info);
    }
    for (s = 0u; s < 2u; s++) {
        if (check_full(b, c, s) == MF_OK && check_crc_only(c, s, &info) == MF_OK) {
            r = b->rec;
            r.active_slot = s;
            r.pending_slot = MF_BOOT_NO_SLOT;
            r.trial = 0u;
            if (info.security_counter > r.security_counter) {
                r.security_counter = info.security_counter;
            }
            (void)record_write(b, c, r);
            b->check_done_slot = MF_BOOT_NO_SLOT;
            return boot_slot(b, s, 0u, &info);
        }
    }
    b->check_done_slot = MF_BOOT_NO_SLOT;
    return MF_ESTATE;
}

int mf_boot_confirm(mf_boot_t *b, const mf_boot_config_t *c)
{
    mf_boot_record_t r;
    if (b == NULL || c == NULL) {
        return MF_ENULL;
    }
    if (b->running_slot > 1u) {
        return MF_ESTATE;
    }
    r = b->rec;
    if (r.active_slot == b->running_slot && r.pending_slot == MF_BOOT_NO_SLOT
        && r.security_counter >= b->running.security_counter) {
        b->trial_boot = 0u;
        return MF_OK;   /* already confirmed */
    }
    r.active_slot = b->running_slot;
    r.pending_slot = MF_BOOT_NO_SLOT;
    r.trial = 0u;
    if (b->running.security_counter > r.security_counter) {
        r.security_counter = b->running.security_counter;
    }
    if (record_write(b, c, r) != MF_OK) {
        return MF_BOOT_EFLASH;
    }
    b->trial_boot = 0u;
    return MF_OK;
}

uint8_t mf_boot_target_slot(const mf_boot_t *b)
{
    uint8_t busy = b->running_slot != MF_BOOT_NO_SLOT ? b->running_slot : b->rec.active_slot;
    return busy == MF_BOOT_SLOT_A ? MF_BOOT_SLOT_B : MF_BOOT_SLOT_A;
}

int mf_boot_set_pending(mf_boot_t *b, const mf_boot_config_t *c, uint8_t slot)
{
    mf_boot_record_t r;
    if (b == NULL || c == NULL) {
        return MF_ENULL;
    }
    if (slot > 1u || slot != b->check_done_slot || slot == b->running_slot || slot == b->rec.active_slot) {
        return MF_ESTATE;
    }
    r = b->rec;
    r.pending_slot = slot;
    r.trial = 0u;
    return record_write(b, c, r);
}

int mf_boot_set_serial(mf_boot_t *b, const mf_boot_config_t *c, const uint8_t serial[16])
{
    mf_boot_record_t r;
    if (b == NULL || c == NULL || serial == NULL) {
        return MF_ENULL;
    }
    r = b->rec;
    memcpy(r.serial, serial, MF_BOOT_SERIAL_BYTES);
    return record_write(b, c, r);
}

/* ---- erasing -------------------------------------------------------------- */

int mf_boot_erase_begin(mf_boot_t *b, const mf_boot_config_t *c, uint8_t slot)
{
    return mf_boot_erase_begin_bytes(b, c, slot, 0u);
}

int mf_boot_erase_begin_bytes(mf_boot_t *b, const mf_boot_config_t *c, uint8_t slot, uint32_t bytes)
{
    mf_boot_record_t r;
    uint32_t page;
    if (b == NULL || c == NULL) {
        return MF_ENULL;
    }
    page = c->flash.page_bytes;
    if (slot > 1u || bytes > c->slot_bytes || page == 0u) {
        return MF_ERANGE;
    }
    bytes = (bytes == 0u) ? c->slot_bytes : ((bytes - 1u) / page + 1u) * page; /* whole pages */
    if (bytes > c->slot_bytes) {
        bytes = c->slot_bytes;
    }
    if (slot == b->running_slot || slot == b->rec.active_slot) {
        return MF_ESTATE;
    }
    if (b->check_done_slot == slot || b->check_slot == slot) {
        b->check_done_slot = b->check_slot = MF_BOOT_NO_SLOT;
    }
    b->write_slot = MF_BOOT_NO_SLOT;
    b->erased_slot = MF_BOOT_NO_SLOT;
    if (b->rec.pending_slot == slot) {   /* the record must never point at a half-erased slot */
        r = b->rec;
        r.pending_slot = MF_BOOT_NO_SLOT;
        r.trial = 0u;
        if (record_write(b, c, r) != MF_OK) {
            return MF_BOOT_EFLASH;
        }
    }
    b->erase_slot = slot;
    b->erase_addr = c->slot_addr[slot];
    b->erase_end = c->slot_addr[slot] + bytes;
    return MF_OK;
}

int mf_boot_erase_step(mf_boot_t *b, const mf_boot_config_t *c, uint32_t max_pages)
{
    uint32_t end, n = 0u;
    uint8_t slot;
    if (b == NULL || c == NULL) {
        return MF_ENULL;
    }
    slot = b->erase_slot;
    if (slot > 1u) {
        return MF_ESTATE;
    }
    end = b->erase_end;
    while (b->erase_addr < end && n < max_pages) {
        if (c->flash.erase_page(c->flash.ctx, b->erase_addr) != 0) {
            b->erase_slot = MF_BOOT_NO_SLOT;
            return MF_BOOT_EFLASH;
        }
        b->erase_addr += c->flash.page_bytes;
        n++;
    }
    if (b->erase_addr < end) {
        return 1;
    }
    b->erase_slot = MF_BOOT_NO_SLOT;
    b->erased_slot = slot;
    b->erased_bytes = end - c->slot_addr[slot];
    return MF_OK;
}

/* ---- writing ---------------------------------------------------------------- */

int mf_boot_write_begin(mf_boot_t *b, const mf_boot_config_t *c, uint32_t addr, uint32_t length)
{
    uint8_t slot;
    if (b == NULL || c == NULL) {
        return MF_ENULL;
    }
    if (addr == c->slot_addr[0]) {
        slot = 0u;
    } else if (addr == c->slot_addr[1]) {
        slot = 1u;
    } else {
        return MF_ERANGE;
    }
    if (length <= MF_BOOT_HEADER_BYTES || length > c->slot_bytes) {
        return MF_ERANGE;
    }
    if (b->erased_slot != slot || length > b->erased_bytes || slot == b->running_slot ||
        slot == b->rec.active_slot) {
        return MF_ESTATE;
    }
    b->erased_slot = MF_BOOT_NO_SLOT;   /* a second download needs a new erase */
    b->write_slot = slot;
    b->write_addr = addr;
    b->write_end = addr + length;
    b->carry_len = 0u;
    return MF_OK;
}

static int program(const mf_boot_config_t *c, uint32_t addr, const uint8_t *data, uint32_t len)
{
    return c->flash.program(c->flash.ctx, addr, data, len) == 0 ? MF_OK : MF_BOOT_EFLASH;
}

int mf_boot_write(mf_boot_t *b, const mf_boot_config_t *c, const uint8_t *data, uint32_t len)
{
    uint32_t unit, n, whole;
    if (b == NULL || c == NULL || (data == NULL && len > 0u)) {
        return MF_ENULL;
    }
    if (b->write_slot > 1u) {
        return MF_ESTATE;
    }
    if (len > b->write_end - b->write_addr - b->carry_len) {
        return MF_ERANGE;
    }
    unit = c->flash.prog_bytes;
    if (b->carry_len > 0u) {            /* complete the carried unit first */
        n = unit - b->carry_len;
        if (n > len) {
            n = len;
        }
        memcpy(b->carry + b->carry_len, data, n);
        b->carry_len += n;
        data += n;
        len -= n;
        if (b->carry_len < unit) {
            return MF_OK;
        }
        if (program(c, b->write_addr, b->carry, unit) != MF_OK) {
            b->write_slot = MF_BOOT_NO_SLOT;
            return MF_BOOT_EFLASH;
        }
        b->write_addr += unit;
        b->carry_len = 0u;
    }
    whole = len - len % unit;
    if (whole > 0u) {
        if (program(c, b->write_addr, data, whole) != MF_OK) {
            b->write_slot = MF_BOOT_NO_SLOT;
            return MF_BOOT_EFLASH;
        }
        b->write_addr += whole;
    }
    memcpy(b->carry, data + whole, len - whole);
    b->carry_len = len - whole;
    return MF_OK;
}

int mf_boot_write_end(mf_boot_t *b, const mf_boot_config_t *c)
{
    uint32_t unit;
    if (b == NULL || c == NULL) {
        return MF_ENULL;
    }
    if (b->write_slot > 1u || b->write_addr + b->carry_len != b->write_end) {
        return MF_ESTATE;
    }
    unit = c->flash.prog_bytes;
    if (b->carry_len > 0u) {
        memset(b->carry + b->carry_len, 0xFF, unit - b->carry_len);
        if (program(c, b->write_addr, b->carry, unit) != MF_OK) {
            b->write_slot = MF_BOOT_NO_SLOT;
            return MF_BOOT_EFLASH;
        }
        b->carry_len = 0u;
    }
    b->write_slot = MF_BOOT_NO_SLOT;
    return MF_OK;
}
