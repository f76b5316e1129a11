/* test_boot.c - A/B slots, boot record, image checks, trial boot and
 * rollback (mf_boot), on a RAM flash with power cuts at any byte. */
#include <stdio.h>
#include <string.h>

#include "flash_fixture.h"
#include "mf_boot.h"
#include "mf_crc32.h"
#include "mf_err.h"
#include "mf_test.h"

static fx_flash_t flash;

static int rec_eq(const mf_boot_record_t *x, const mf_boot_record_t *y)
{
    return x->seq == y->seq && x->active_slot == y->active_slot && x->pending_slot == y->pending_slot
           && x->trial == y->trial && x->security_counter == y->security_counter
           && memcmp(x->serial, y->serial, sizeof(x->serial)) == 0;
}

/* Download an image through the API in uneven chunks (exercises the carry);
 * returns the first error or the check result. */
static int download(mf_boot_t *b, const mf_boot_config_t *c, const fx_image_t *im, int set_pending)
{
    static uint8_t img[FX_SLOT_BYTES];
    uint32_t n = fx_image_bytes(im, img), pos = 0u, step = 1u;
    uint8_t slot = im->slot_addr == FX_SLOT_A ? 0u : 1u;
    int rc = mf_boot_erase_begin(b, c, slot);
    if (rc != MF_OK) {
        return rc;
    }
    while ((rc = mf_boot_erase_step(b, c, 3u)) == 1) {
    }
    if (rc != MF_OK) {
        return rc;
    }
    rc = mf_boot_write_begin(b, c, im->slot_addr, n);
    if (rc != MF_OK) {
        return rc;
    }
    while (pos < n) {
        uint32_t k = n - pos < step ? n - pos : step;
        rc = mf_boot_write(b, c, img + pos, k);
        if (rc != MF_OK) {
            return rc;
        }
        pos += k;
        step = step * 3u + 1u;
        if (step > 1500u) {
            step = 5u;
        }
    }
    rc = mf_boot_write_end(b, c);
    if (rc != MF_OK) {
        return rc;
    }
    rc = mf_boot_check_begin(b, c, slot);
    while (rc == MF_OK || rc == 1) {
        rc = mf_boot_check_step(b, c, 700u);
        if (rc == MF_OK) {
            break;
        }
    }
    if (rc != MF_OK || !set_pending) {
        return rc;
    }
    return mf_boot_set_pending(b, c, slot);
}

static void test_crc32(void)
{
    const uint8_t s[] = "123456789";
    MF_CHECK(mf_crc32_update(0u, s, 9u) == 0xCBF43926u);   /* the CRC-32 check value */
    MF_CHECK(mf_crc32_update(mf_crc32_update(0u, s, 4u), s + 4, 5u) == 0xCBF43926u);
}

static void test_config_checks(void)
{
    mf_boot_t b;
    mf_boot_config_t c = fx_boot_config(&flash);
    MF_CHECK(mf_boot_init(&b, &c) == MF_OK);
    c.slot_addr[1] = FX_SLOT_A + 0x800u;      /* overlapping slots */
    MF_CHECK(mf_boot_init(&b, &c) == MF_EINVAL);
    c = fx_boot_config(&flash);
    c.record_addr[1] = FX_SLOT_B;             /* record inside a slot */
    MF_CHECK(mf_boot_init(&b, &c) == MF_EINVAL);
    c = fx_boot_config(&flash);
    c.flash.page_bytes = 1000u;
    MF_CHECK(mf_boot_init(&b, &c) == MF_EINVAL);
    c = fx_boot_config(&flash);
    c.flash.read = NULL;
    MF_CHECK(mf_boot_init(&b, &c) == MF_ENULL);
}

static void test_blank_then_factory_image(void)
{
    mf_boot_t b;
    mf_boot_config_t c = fx_boot_config(&flash);
    fx_init(&flash);
    MF_CHECK(mf_boot_init(&b, &c) == MF_OK);
    MF_CHECK(mf_boot_select(&b, &c) == MF_ESTATE);
    MF_CHECK(b.rec_copy == -1);
    MF_CHECK(mf_boot_target_slot(&b) == 0u);
    fx_place(&flash, fx_find("a_v1"));
    MF_CHECK(mf_boot_select(&b, &c) == 0);   /* adopted after the full check */
    MF_CHECK(b.rec.active_slot == 0u && b.rec.security_counter == 1u && b.rec_copy == 0);
    MF_CHECK(b.running.fw_version == 0x010000u);
    MF_CHECK(memcmp(b.running.version_text, "1.0.0", 6) == 0);
    MF_CHECK(mf_boot_target_slot(&b) == 1u);
    MF_CHECK(mf_boot_select(&b, &c) == 0 && b.rec.seq == 1u);   /* no record write at a plain boot */
}

static void test_trial_rollback_and_confirm(void)
{
    mf_boot_t b;
    mf_boot_config_t c = fx_boot_config(&flash);
    uint32_t seq;
    MF_CHECK(mf_boot_init(&b, &c) == MF_OK);
    MF_CHECK(mf_boot_select(&b, &c) == 0);
    MF_CHECK(mf_boot_erase_begin(&b, &c, 0u) == MF_ESTATE);    /* the running slot */
    MF_CHECK(download(&b, &c, fx_find("b_v2"), 1) == MF_OK);
    MF_CHECK(b.rec.pending_slot == 1u && b.rec.trial == 0u && b.rec.active_slot == 0u);
    MF_CHECK(mf_boot_select(&b, &c) == 1);                      /* the trial boot */
    MF_CHECK(b.trial_boot == 1u && b.rec.trial == 1u);
    MF_CHECK(b.running.fw_version == 0x010100u);
    MF_CHECK(mf_boot_select(&b, &c) == 0);                      /* it never confirmed: rollback */
    MF_CHECK(b.rec.pending_slot == MF_BOOT_NO_SLOT && b.rec.active_slot == 0u && b.rec.security_counter == 1u);
    MF_CHECK(mf_boot_select(&b, &c) == 0);
    /* again, and this time it confirms */
    MF_CHECK(download(&b, &c, fx_find("b_v2"), 1) == MF_OK);
    MF_CHECK(mf_boot_select(&b, &c) == 1);
    MF_CHECK(mf_boot_confirm(&b, &c) == MF_OK);
    MF_CHECK(b.rec.active_slot == 1u && b.rec.pending_slot == MF_BOOT_NO_SLOT && b.rec.security_counter == 2u);
    seq = b.rec.seq;
    MF_CHECK(mf_boot_confirm(&b, &c) == MF_OK && b.rec.seq == seq);   /* idempotent, no write */
    MF_CHECK(mf_boot_select(&b, &c) == 1 && b.trial_boot == 0u);
    MF_CHECK(mf_boot_target_slot(&b) == 0u);
    /* anti-rollback: the old slot-A image (counter 1) is now refused */
    MF_CHECK(download(&b, &c, fx_find("a_v1"), 1) == MF_BOOT_ECOUNTER);
    MF_CHECK(b.rec.pending_slot == MF_BOOT_NO_SLOT);
    MF_CHECK(download(&b, &c, fx_find("a_v3"), 1) == MF_OK);
    MF_CHECK(mf_boot_select(&b, &c) == 0 && mf_boot_confirm(&b, &c) == MF_OK);
    MF_CHECK(b.rec.security_counter == 3u);
}

static void test_bad_images_change_nothing(void)
{
    mf_boot_t b;
    mf_boot_config_t c = fx_boot_config(&flash);
    mf_boot_record_t before;
    uint8_t img[FX_SLOT_BYTES];
    uint32_t n;
    int rc, i;
    const char *names[] = {"b_old", "b_board", "b_unsigned", "b_otherkey", "b_in_a"};
    const int want[] = {MF_BOOT_ECOUNTER, MF_BOOT_EBOARD, MF_BOOT_EUNSIGNED, MF_BOOT_ESIGNATURE,
                        MF_BOOT_ELOADADDR};
    fx_init(&flash);
    fx_place(&flash, fx_find("a_v1"));
    MF_CHECK(mf_boot_init(&b, &c) == MF_OK && mf_boot_select(&b, &c) == 0);
    before = b.rec;
    for (i = 0; i < 5; i++) {
        const fx_image_t *im = fx_find(names[i]);
        fx_image_t moved = *im;
        moved.slot_addr = FX_SLOT_B;   /* b_in_a is linked for A but downloaded into B */
        rc = download(&b, &c, &moved, 1);
        MF_CHECK(rc == want[i]);
        if (rc != want[i]) {
            fprintf(stderr, "  %s: %d, expected %d\n", names[i], rc, want[i]);
        }
        MF_CHECK(rec_eq(&b.rec, &before));
        MF_CHECK(mf_boot_select(&b, &c) == 0 && b.running.fw_version == 0x010000u);
    }
    /* a payload byte flipped after the download: CRC */
    MF_CHECK(download(&b, &c, fx_find("b_v2"), 0) == MF_OK);
    flash.mem[FX_SLOT_B - FX_FLASH_BASE + 512 + 100] ^= 0x04u;
    MF_CHECK(mf_boot_check_begin(&b, &c, 1u) == MF_OK);
    MF_CHECK(mf_boot_check_step(&b, &c, 100000u) == MF_BOOT_ECRC);
    MF_CHECK(mf_boot_set_pending(&b, &c, 1u) == MF_ESTATE);
    /* a header byte flipped: header CRC */
    flash.mem[FX_SLOT_B - FX_FLASH_BASE + 8] ^= 0x01u;
    MF_CHECK(mf_boot_check_begin(&b, &c, 1u) == MF_BOOT_EHEADER);
    /* a truncated download: transfer exit refused, the check finds erased bytes */
    MF_CHECK(mf_boot_erase_begin(&b, &c, 1u) == MF_OK);
    while ((rc = mf_boot_erase_step(&b, &c, 100u)) == 1) {
    }
    n = fx_image_bytes(fx_find("b_v2"), img);
    MF_CHECK(mf_boot_write_begin(&b, &c, FX_SLOT_B, n) == MF_OK);
    MF_CHECK(mf_boot_write(&b, &c, img, n - 300u) == MF_OK);
    MF_CHECK(mf_boot_write_end(&b, &c) == MF_ESTATE);
    MF_CHECK(mf_boot_write(&b, &c, img, 301u) == MF_ERANGE);   /* more than announced */
    MF_CHECK(mf_boot_check_begin(&b, &c, 1u) == MF_OK);
    MF_CHECK(mf_boot_check_step(&b, &c, 100000u) == MF_BOOT_ECRC);
    /* writing needs a fresh erase */
    MF_CHECK(mf_boot_write_begin(&b, &c, FX_SLOT_B, n) == MF_ESTATE);
    MF_CHECK(mf_boot_write_begin(&b, &c, FX_SLOT_B + 8u, n) == MF_ERANGE);
    MF_CHECK(rec_eq(&b.rec, &before));
    MF_CHECK(mf_boot_select(&b, &c) == 0);
}

/* The reference sequence: B is flashed, checked, made pending, tried and
 * confirmed, starting from A running v1. */
static int sequence(mf_boot_t *b, const mf_boot_config_t *c)
{
    int rc = mf_boot_init(b, c);
    if (rc == MF_OK && mf_boot_select(b, c) != 0) {
        return -100;
    }
    if (rc == MF_OK) {
        rc = download(b, c, fx_find("b_v2"), 1);
    }
    if (rc == MF_OK && mf_boot_select(b, c) != 1) {
        rc = -101;
    }
    if (rc == MF_OK) {
        rc = mf_boot_confirm(b, c);
    }
    return rc;
}

static int slot_image_ok(const mf_boot_config_t *c, mf_boot_t *b, int slot)
{
    int rc = mf_boot_check_begin(b, c, (uint8_t)slot);
    while (rc == MF_OK || rc == 1) {
        rc = mf_boot_check_step(b, c, 1u << 20);
        if (rc == MF_OK) {
            return 1;
        }
    }
    (void)rc;
    return 0;
}

static void test_power_cut_at_any_byte(void)
{
    mf_boot_t b;
    mf_boot_config_t c = fx_boot_config(&flash);
    unsigned long total, cut;
    int booted, failures = 0, runs = 0, rolled = 0, newer = 0;
    fx_init(&flash);
    fx_place(&flash, fx_find("a_v1"));
    MF_CHECK(mf_boot_init(&b, &c) == MF_OK && mf_boot_select(&b, &c) == 0);
    {
        static fx_flash_t ref;
        memcpy(&ref, &flash, sizeof(flash));
        ref.used = 0;
        c.flash.ctx = &ref;
        MF_CHECK(sequence(&b, &c) == MF_OK);
        total = ref.used;
        c.flash.ctx = &flash;
    }
    for (cut = 0; cut <= total; cut += (cut + 1000 < total ? 37u : 1u)) {
        static fx_flash_t f;
        memcpy(&f, &flash, sizeof(flash));
        f.budget = (long)cut;
        c.flash.ctx = &f;
        (void)sequence(&b, &c);
        fx_power_on(&f);                                   /* power returns: reset */
        booted = mf_boot_init(&b, &c) == MF_OK ? mf_boot_select(&b, &c) : -1;
        runs++;
        if (booted != 0 && booted != 1) {
            failures++;
            fprintf(stderr, "  cut at %lu: nothing bootable (%d)\n", cut, booted);
        } else if (!slot_image_ok(&c, &b, booted)) {
            failures++;
            fprintf(stderr, "  cut at %lu: booted slot %d fails its check\n", cut, booted);
        }
        if (booted == 0) {
            rolled++;
        } else if (booted == 1) {
            newer++;
        }
        /* a retry from here completes: B v1.1.0 confirmed (or already) */
        if (booted == 1 && b.trial_boot) {
            MF_CHECK(mf_boot_confirm(&b, &c) == MF_OK);
        } else if (booted == 0) {
            MF_CHECK(download(&b, &c, fx_find("b_v2"), 1) == MF_OK);
            MF_CHECK(mf_boot_select(&b, &c) == 1 && mf_boot_confirm(&b, &c) == MF_OK);
        }
        MF_CHECK(mf_boot_select(&b, &c) == 1 && b.rec.active_slot == 1u && b.rec.security_counter == 2u);
    }
    c.flash.ctx = &flash;
    MF_CHECK(failures == 0);
    MF_CHECK(rolled > 0 && newer > 0);
    printf("test_boot: %d power cuts over %lu flash bytes: %d booted A (old), %d booted B (new), %d failures\n",
           runs, total, rolled, newer, failures);
}

int main(void)
{
    test_crc32();
    test_config_checks();
    test_blank_then_factory_image();
    test_trial_rollback_and_confirm();
    test_bad_images_change_nothing();
    test_power_cut_at_any_byte();
    return mf_test_report("test_boot");
}
