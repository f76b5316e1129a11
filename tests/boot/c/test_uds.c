/* test_uds.c - the UDS server (mf_uds) end to end through ISO-TP frames:
 * sessions, security access, identifiers, a whole download with erase,
 * transfer, exit, check, reset, trial and confirm, and the negative
 * response codes of ISO 14229-1. */
#include <stdio.h>
#include <string.h>

#include "flash_fixture.h"
#include "mf_err.h"
#include "mf_test.h"
#include "mf_uds.h"

static fx_flash_t flash;
static mf_uds_t uds;
static mf_uds_config_t cfg;
static uint8_t resp[4096];
static uint32_t resp_len;
static int frames_out;

static void setup(void)
{
    memset(&cfg, 0, sizeof(cfg));
    cfg.tp.tx_dl = 8;
    cfg.tp.padding = 0xCC;
    cfg.tp.n_bs_s = 1.0f;
    cfg.tp.n_cr_s = 1.0f;
    cfg.boot = fx_boot_config(&flash);
    cfg.security_secret = 0x6D790201u;
    cfg.s3_s = 5.0f;
    cfg.lockout_s = 10.0f;
    cfg.max_attempts = 3;
    cfg.p2_ms = 50;
    cfg.p2_star_10ms = 500;
    cfg.erase_pages_per_poll = 2;
    cfg.check_bytes_per_poll = 1024;
}

/* Collect the server's answer frames (sending the FC a tester sends). */
static int collect(void)
{
    uint8_t f[64];
    uint32_t n, need = 0;
    resp_len = 0;
    while (mf_uds_tx_pop(&uds, &cfg, f, &n) == 1) {
        frames_out++;
        if ((f[0] >> 4) == 0) {
            resp_len = f[0] & 15u;
            memcpy(resp, f + 1, resp_len);
            return 1;
        }
        if ((f[0] >> 4) == 1) {
            const uint8_t fc[3] = {0x30, 0, 0};
            need = ((uint32_t)(f[0] & 15u) << 8) | f[1];
            memcpy(resp, f + 2, 6);
            resp_len = 6;
            mf_uds_on_frame(&uds, &cfg, fc, 3);
        } else if ((f[0] >> 4) == 2) {
            uint32_t k = need - resp_len < 7 ? need - resp_len : 7;
            memcpy(resp + resp_len, f + 1, k);
            resp_len += k;
            if (resp_len == need) {
                return 1;
            }
        }
    }
    return resp_len > 0;
}

/* Send a request as ISO-TP frames; return 1 when an answer came. */
static int request(const uint8_t *rq, uint32_t n)
{
    uint8_t f[8], got[64];
    uint32_t pos, sn = 1, gl;
    if (n <= 7) {
        memset(f, 0xCC, 8);
        f[0] = (uint8_t)n;
        memcpy(f + 1, rq, n);
        mf_uds_on_frame(&uds, &cfg, f, 8);
        return collect();
    }
    f[0] = (uint8_t)(0x10 | (n >> 8));
    f[1] = (uint8_t)n;
    memcpy(f + 2, rq, 6);
    mf_uds_on_frame(&uds, &cfg, f, 8);
    MF_CHECK(mf_uds_tx_pop(&uds, &cfg, got, &gl) == 1 && got[0] == 0x30);
    for (pos = 6; pos < n; pos += 7) {
        memset(f, 0xCC, 8);
        f[0] = (uint8_t)(0x20 | sn);
        memcpy(f + 1, rq + pos, n - pos < 7 ? n - pos : 7);
        mf_uds_on_frame(&uds, &cfg, f, 8);
        sn = (sn + 1) & 15;
    }
    return collect();
}

static int rq2(uint8_t a, uint8_t b)
{
    uint8_t r[2] = {a, b};
    return request(r, 2);
}

static int is_nrc(uint8_t sid, uint8_t nrc)
{
    return resp_len == 3 && resp[0] == 0x7F && resp[1] == sid && resp[2] == nrc;
}

/* Wait for the final answer of a pending routine (polling 1 ms at a time). */
static int finish_pending(int *polls)
{
    *polls = 0;
    while (is_nrc(0x31, 0x78) || resp_len == 0) {
        mf_uds_poll(&uds, &cfg, 0.001f);
        (*polls)++;
        resp_len = 0;
        collect();
        if (*polls > 100000) {
            return 0;
        }
    }
    return 1;
}

static uint32_t get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void unlock(void)
{
    uint8_t key[6] = {0x27, 0x02};
    uint32_t k;
    MF_CHECK(rq2(0x27, 0x01) && resp[0] == 0x67 && resp_len == 6);
    k = mf_uds_key(get32(resp + 2), cfg.security_secret);
    key[2] = (uint8_t)(k >> 24);
    key[3] = (uint8_t)(k >> 16);
    key[4] = (uint8_t)(k >> 8);
    key[5] = (uint8_t)k;
    MF_CHECK(request(key, 6) && resp_len == 2 && resp[0] == 0x67 && resp[1] == 0x02);
}

static void test_key_function(void)
{
    /* fmix32 of MurmurHash3 by hand for seed ^ secret = 0: fmix32(0) = 0, so
     * key = fmix32(rotl(secret, 13)); for secret 0 the key of seed 0 is 0 */
    MF_CHECK(mf_uds_key(0u, 0u) == 0u);
    MF_CHECK(mf_uds_key(1u, 2u) != mf_uds_key(2u, 2u));
    MF_CHECK(mf_uds_key(0x12345678u, 0x6D790201u) == 0x960E845Du);   /* value of a Python transcription of the formula in mf_uds.h */
}

static void test_sessions_and_identifiers(void)
{
    uint8_t rd[7] = {0x22, 0xF1, 0x89, 0xFD, 0x00, 0xFD, 0x01};
    uint8_t wr[19] = {0x2E, 0xF1, 0x8C};
    fx_init(&flash);
    fx_place(&flash, fx_find("a_v1"));
    MF_CHECK(mf_uds_boot(&uds, &cfg) == 0);
    MF_CHECK(rq2(0x10, 0x03) && resp_len == 6 && resp[0] == 0x50 && resp[1] == 3 && resp[3] == 50
             && resp[4] == 0x01 && resp[5] == 0xF4);
    MF_CHECK(request(rd, 7));
    MF_CHECK(resp_len == 1 + 2 + 32 + 2 + 4 + 2 + 12 && resp[0] == 0x62);
    MF_CHECK(resp[1] == 0xF1 && resp[2] == 0x89 && memcmp(resp + 3, "1.0.0", 6) == 0);
    MF_CHECK(resp[35] == 0xFD && resp[36] == 0x00 && get32(resp + 37) == FX_BOARD);
    MF_CHECK(resp[43] == 0 && resp[44] == 0 && resp[45] == 1 && get32(resp + 47) == FX_SLOT_B
             && get32(resp + 51) == FX_SLOT_BYTES);
    MF_CHECK(rq2(0x22, 0xF1) && is_nrc(0x22, 0x13));                 /* odd length */
    rd[1] = 0x12;
    MF_CHECK(request(rd, 3) && is_nrc(0x22, 0x31));                   /* unknown DID */
    memcpy(wr + 3, "SN-000042\0\0\0\0\0\0\0", 16);
    MF_CHECK(request(wr, 19) && is_nrc(0x2E, 0x33));                 /* locked */
    unlock();
    MF_CHECK(request(wr, 19) && resp_len == 3 && resp[0] == 0x6E);
    rd[1] = 0xF1;
    rd[2] = 0x8C;
    MF_CHECK(request(rd, 3) && memcmp(resp + 3, "SN-000042", 10) == 0);
    MF_CHECK(mf_uds_boot(&uds, &cfg) == 0);                            /* survives a reset */
    MF_CHECK(request(rd, 3) && memcmp(resp + 3, "SN-000042", 10) == 0);
    MF_CHECK(rq2(0x3E, 0x00) && resp_len == 2 && resp[0] == 0x7E);
    resp_len = 0;
    MF_CHECK(!rq2(0x3E, 0x80));                                        /* suppressed answer */
    MF_CHECK(rq2(0x3E, 0x01) && is_nrc(0x3E, 0x12));
    MF_CHECK(rq2(0x10, 0x04) && is_nrc(0x10, 0x12));
    MF_CHECK(rq2(0x85, 0x01) && is_nrc(0x85, 0x11));                  /* service not supported */
    MF_CHECK(rq2(0x27, 0x01) && is_nrc(0x27, 0x7F));                  /* not in the default session */
    /* S3: a non-default session falls back to default without requests */
    MF_CHECK(rq2(0x10, 0x02) && resp[0] == 0x50);
    {
        int i;
        for (i = 0; i < 4900; i++) {
            mf_uds_poll(&uds, &cfg, 0.001f);
        }
        MF_CHECK(uds.session == MF_UDS_SESSION_PROGRAMMING);
        MF_CHECK(rq2(0x3E, 0x00));                                     /* tester present: S3 restarts */
        for (i = 0; i < 4900; i++) {
            mf_uds_poll(&uds, &cfg, 0.001f);
        }
        MF_CHECK(uds.session == MF_UDS_SESSION_PROGRAMMING);
        for (i = 0; i < 200; i++) {
            mf_uds_poll(&uds, &cfg, 0.001f);
        }
        MF_CHECK(uds.session == MF_UDS_SESSION_DEFAULT);
    }
}

static void test_security_lockout(void)
{
    uint8_t bad[6] = {0x27, 0x02, 0, 0, 0, 0};
    int i;
    MF_CHECK(mf_uds_boot(&uds, &cfg) == 0);
    MF_CHECK(rq2(0x10, 0x02));
    MF_CHECK(request(bad, 6) && is_nrc(0x27, 0x24));                 /* key before seed */
    for (i = 0; i < 3; i++) {
        MF_CHECK(rq2(0x27, 0x01) && resp[0] == 0x67);
        MF_CHECK(request(bad, 6) && is_nrc(0x27, i < 2 ? 0x35 : 0x36));
    }
    MF_CHECK(rq2(0x27, 0x01) && is_nrc(0x27, 0x37));                 /* delay not expired */
    for (i = 0; i < 10001; i++) {
        mf_uds_poll(&uds, &cfg, 0.001f);
        if (i % 1000 == 0) {
            rq2(0x3E, 0x80);
        }
    }
    unlock();
    MF_CHECK(rq2(0x27, 0x01) && resp_len == 6 && get32(resp + 2) == 0u);   /* unlocked: seed 0 */
}

/* Flash an image through UDS; returns the check status byte (or 0x100 + NRC). */
static int flash_image(const fx_image_t *im, int repeat_block, int *polls)
{
    static uint8_t img[FX_SLOT_BYTES], rq[MF_UDS_MAX_BLOCK];
    uint32_t n = fx_image_bytes(im, img), pos, k, block = MF_UDS_MAX_BLOCK - 2u;
    uint8_t counter = 1, erase[5] = {0x31, 0x01, 0xFF, 0x00, 1}, check[5] = {0x31, 0x01, 0xFF, 0x01, 1};
    uint8_t dl[11] = {0x34, 0x00, 0x44};
    int p;
    erase[4] = check[4] = im->slot_addr == FX_SLOT_A ? 0 : 1;
    MF_CHECK(rq2(0x10, 0x02));
    unlock();
    MF_CHECK(request(erase, 5) && is_nrc(0x31, 0x78));
    MF_CHECK(rq2(0x3E, 0x00) && is_nrc(0x3E, 0x21));                /* busy meanwhile */
    resp_len = 0;
    MF_CHECK(finish_pending(&p) && resp_len == 5 && resp[0] == 0x71 && resp[4] == 0);
    *polls = p;
    dl[3] = (uint8_t)(im->slot_addr >> 24);
    dl[4] = (uint8_t)(im->slot_addr >> 16);
    dl[5] = (uint8_t)(im->slot_addr >> 8);
    dl[6] = (uint8_t)im->slot_addr;
    dl[7] = (uint8_t)(n >> 24);
    dl[8] = (uint8_t)(n >> 16);
    dl[9] = (uint8_t)(n >> 8);
    dl[10] = (uint8_t)n;
    MF_CHECK(request(dl, 11) && resp_len == 4 && resp[0] == 0x74 && resp[1] == 0x20
             && ((resp[2] << 8) | resp[3]) == MF_UDS_MAX_BLOCK);
    for (pos = 0; pos < n; pos += k) {
        k = n - pos < block ? n - pos : block;
        rq[0] = 0x36;
        rq[1] = counter;
        memcpy(rq + 2, img + pos, k);
        MF_CHECK(request(rq, k + 2) && resp_len == 2 && resp[0] == 0x76 && resp[1] == counter);
        if (repeat_block) {   /* the answer "was lost": the tester repeats the block */
            MF_CHECK(request(rq, k + 2) && resp_len == 2 && resp[0] == 0x76 && resp[1] == counter);
            rq[1] = (uint8_t)(counter + 5);
            MF_CHECK(request(rq, k + 2) && is_nrc(0x36, 0x73));
        }
        counter++;
    }
    MF_CHECK(rq2(0x37, 0x00) && is_nrc(0x37, 0x13));                 /* exit takes no data */
    {
        uint8_t ex[1] = {0x37};
        MF_CHECK(request(ex, 1) && resp_len == 1 && resp[0] == 0x77);
    }
    MF_CHECK(request(check, 5));
    if (is_nrc(0x31, 0x78)) {
        MF_CHECK(finish_pending(&p));
    }
    MF_CHECK(resp_len == 5 && resp[0] == 0x71 && resp[2] == 0xFF && resp[3] == 0x01);
    return resp[4];
}

static void test_download_trial_confirm(void)
{
    uint8_t rd[3] = {0x22, 0xF1, 0x89}, confirm[4] = {0x31, 0x01, 0xFF, 0x02};
    uint8_t erase_a[5] = {0x31, 0x01, 0xFF, 0x00, 0};
    int polls = 0;
    fx_init(&flash);
    fx_place(&flash, fx_find("a_v1"));
    MF_CHECK(mf_uds_boot(&uds, &cfg) == 0);
    MF_CHECK(rq2(0x34, 0x00) && is_nrc(0x34, 0x7F));                 /* default session */
    MF_CHECK(rq2(0x10, 0x02));
    {
        uint8_t dl[11] = {0x34, 0x00, 0x44, 0x08, 0x00, 0x60, 0x00, 0, 0, 0x10, 0};
        MF_CHECK(request(dl, 11) && is_nrc(0x34, 0x33));              /* locked */
        unlock();
        MF_CHECK(request(dl, 11) && is_nrc(0x34, 0x70));              /* slot not erased */
        MF_CHECK(request(erase_a, 5) && is_nrc(0x31, 0x22));          /* the running slot */
        MF_CHECK(rq2(0x36, 0x01) && is_nrc(0x36, 0x24));              /* no download */
    }
    MF_CHECK(flash_image(fx_find("b_v2"), 1, &polls) == 0);
    MF_CHECK(polls == 4);                                              /* 8 pages, 2 per poll */
    MF_CHECK(uds.boot.rec.pending_slot == 1);
    MF_CHECK(rq2(0x11, 0x01) && resp_len == 2 && resp[0] == 0x51);
    MF_CHECK(mf_uds_reset_pending(&uds) == 1);
    MF_CHECK(mf_uds_boot(&uds, &cfg) == 1 && uds.boot.trial_boot == 1);
    MF_CHECK(mf_uds_reset_pending(&uds) == 0);
    MF_CHECK(request(rd, 3) && memcmp(resp + 3, "1.1.0", 6) == 0);
    MF_CHECK(mf_uds_boot(&uds, &cfg) == 0);                           /* no confirm: rolled back */
    MF_CHECK(request(rd, 3) && memcmp(resp + 3, "1.0.0", 6) == 0);
    MF_CHECK(flash_image(fx_find("b_v2"), 0, &polls) == 0);
    MF_CHECK(mf_uds_boot(&uds, &cfg) == 1);
    MF_CHECK(request(confirm, 4) && resp_len == 5 && resp[0] == 0x71 && resp[4] == 0);
    MF_CHECK(mf_uds_boot(&uds, &cfg) == 1 && uds.boot.trial_boot == 0 && uds.boot.rec.security_counter == 2);
    MF_CHECK(request(rd, 3) && memcmp(resp + 3, "1.1.0", 6) == 0);
    /* refused images: the status byte names the check, nothing changes */
    MF_CHECK(flash_image(fx_find("a_v1"), 0, &polls) == 6);           /* counter 1 < 2 */
    MF_CHECK(uds.boot.rec.pending_slot == MF_BOOT_NO_SLOT);
    MF_CHECK(mf_uds_boot(&uds, &cfg) == 1);
    printf("test_uds: %d frames sent by the server\n", frames_out);
}

int main(void)
{
    setup();
    test_key_function();
    test_sessions_and_identifiers();
    test_security_lockout();
    test_download_trial_confirm();
    return mf_test_report("test_uds");
}
