/* test_isotp.c - ISO 15765-2 server side (mf_isotp): SF/FF/CF/FC, block
 * size and STmin, padding, CAN FD lengths, sequence errors and timeouts. */
#include <stdio.h>
#include <string.h>

#include "mf_err.h"
#include "mf_isotp.h"
#include "mf_test.h"

static mf_isotp_t tp;   /* 8 KiB: not on the stack */

static mf_isotp_config_t cfg(uint8_t dl, uint8_t bs, uint8_t st)
{
    mf_isotp_config_t c;
    c.tx_dl = dl;
    c.block_size = bs;
    c.st_min = st;
    c.padding = 0xCC;
    c.n_bs_s = 1.0f;
    c.n_cr_s = 1.0f;
    return c;
}

static int pop(const mf_isotp_config_t *c, uint8_t *f, uint32_t *n)
{
    return mf_isotp_tx_pop(&tp, c, f, n);
}

static void test_config(void)
{
    mf_isotp_config_t c = cfg(8, 0, 0);
    MF_CHECK(mf_isotp_init(&tp, &c) == MF_OK);
    c.tx_dl = 9;
    MF_CHECK(mf_isotp_init(&tp, &c) == MF_EINVAL);
    c.tx_dl = 64;
    MF_CHECK(mf_isotp_init(&tp, &c) == MF_OK);
    c.st_min = 0x80;
    MF_CHECK(mf_isotp_init(&tp, &c) == MF_EINVAL);
    c = cfg(8, 0, 0);
    c.n_cr_s = 0.0f;
    MF_CHECK(mf_isotp_init(&tp, &c) == MF_EINVAL);
}

static void test_single_frames(void)
{
    mf_isotp_config_t c = cfg(8, 0, 0);
    const uint8_t sf[8] = {0x02, 0x10, 0x02, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC};
    const uint8_t bad[8] = {0x09, 0x10, 0x02, 0, 0, 0, 0, 0};
    uint8_t f[64];
    uint32_t n;
    MF_CHECK(mf_isotp_init(&tp, &c) == MF_OK);
    MF_CHECK(mf_isotp_on_frame(&tp, &c, sf, 8) == MF_ISOTP_RX_DONE);
    MF_CHECK(tp.rx_len == 2 && tp.rx_buf[0] == 0x10 && tp.rx_buf[1] == 0x02);
    MF_CHECK(mf_isotp_on_frame(&tp, &c, bad, 8) == MF_ERANGE);   /* SF_DL 9 on classic CAN */
    MF_CHECK(mf_isotp_on_frame(&tp, &c, sf, 2) == MF_ERANGE);    /* shorter than SF_DL says */
    MF_CHECK(pop(&c, f, &n) == 0);
    MF_CHECK(mf_isotp_send(&tp, &c, (const uint8_t *)"\x50\x02\x00\x32\x01\xF4", 6) == MF_OK);
    MF_CHECK(pop(&c, f, &n) == 1 && n == 8 && f[0] == 0x06 && f[1] == 0x50 && f[6] == 0xF4 && f[7] == 0xCC);
    MF_CHECK(pop(&c, f, &n) == 0 && mf_isotp_tx_idle(&tp));
}

/* Receive a message of len bytes as FF + CFs; the server's FCs checked. */
static void test_multi_frame_receive(uint8_t bs)
{
    mf_isotp_config_t c = cfg(8, bs, 0);
    uint8_t msg[4095], fr[8], f[64];
    uint32_t len = 4095, pos, n, sn = 1, fcs = 0, cfs = 0;
    int rc = 0;
    for (pos = 0; pos < len; pos++) {
        msg[pos] = (uint8_t)(pos * 13 + 5);
    }
    MF_CHECK(mf_isotp_init(&tp, &c) == MF_OK);
    fr[0] = (uint8_t)(0x10 | (len >> 8));
    fr[1] = (uint8_t)len;
    memcpy(fr + 2, msg, 6);
    MF_CHECK(mf_isotp_on_frame(&tp, &c, fr, 8) == 0);
    for (pos = 6; pos < len;) {
        if (pop(&c, f, &n) == 1) {   /* a FC: CTS with our BS and STmin, padded */
            MF_CHECK(n == 8 && f[0] == 0x30 && f[1] == bs && f[2] == 0 && f[3] == 0xCC);
            fcs++;
        }
        fr[0] = (uint8_t)(0x20 | sn);
        memset(fr + 1, 0xCC, 7);
        memcpy(fr + 1, msg + pos, len - pos < 7 ? len - pos : 7);
        rc = mf_isotp_on_frame(&tp, &c, fr, 8);
        pos += 7;
        sn = (sn + 1) & 15;
        cfs++;
    }
    MF_CHECK(rc == MF_ISOTP_RX_DONE);
    MF_CHECK(tp.rx_len == len && memcmp(tp.rx_buf, msg, len) == 0);
    MF_CHECK(cfs == 585);   /* (4095 - 6) / 7 rounded up */
    MF_CHECK(fcs == (bs == 0 ? 1u : 1u + (cfs - 1) / bs));
}

static void test_receive_errors(void)
{
    mf_isotp_config_t c = cfg(8, 0, 0);
    const uint8_t ff[8] = {0x10, 0x14, 1, 2, 3, 4, 5, 6};     /* 20 bytes */
    const uint8_t cf2[8] = {0x22, 1, 2, 3, 4, 5, 6, 7};
    const uint8_t cf1[8] = {0x21, 1, 2, 3, 4, 5, 6, 7};
    const uint8_t big[8] = {0x10, 0x00, 0x00, 0x00, 0x10, 0x00, 1, 2};   /* escape: 4096 bytes */
    uint8_t f[64];
    uint32_t n;
    MF_CHECK(mf_isotp_init(&tp, &c) == MF_OK);
    MF_CHECK(mf_isotp_on_frame(&tp, &c, cf1, 8) == MF_ERANGE);  /* CF without FF */
    MF_CHECK(mf_isotp_on_frame(&tp, &c, ff, 8) == 0);
    MF_CHECK(mf_isotp_on_frame(&tp, &c, cf2, 8) == MF_ERANGE);  /* wrong SN: aborted */
    MF_CHECK(tp.counters.rx_aborts == 1);
    MF_CHECK(mf_isotp_on_frame(&tp, &c, cf1, 8) == MF_ERANGE);  /* nothing under way now */
    MF_CHECK(mf_isotp_on_frame(&tp, &c, ff, 8) == 0);
    mf_isotp_tick(&tp, &c, 0.6f);
    MF_CHECK(mf_isotp_on_frame(&tp, &c, cf1, 8) == 0);
    mf_isotp_tick(&tp, &c, 0.6f);                                   /* 0.6 s < N_Cr after the CF */
    MF_CHECK(tp.rx_busy == 1);
    mf_isotp_tick(&tp, &c, 0.5f);                                   /* N_Cr over */
    MF_CHECK(tp.rx_busy == 0 && tp.counters.rx_aborts == 2);
    while (pop(&c, f, &n) == 1) {
    }
    MF_CHECK(mf_isotp_on_frame(&tp, &c, big, 8) == 0);           /* too long: FC overflow */
    MF_CHECK(pop(&c, f, &n) == 1 && f[0] == 0x32);
    mf_isotp_tick(&tp, &c, NAN);                                    /* NaN time: nothing happens */
    MF_CHECK(tp.rx_busy == 0);
}

/* Send a long message; the tester's FCs give BS and STmin. */
static void test_multi_frame_send(void)
{
    mf_isotp_config_t c = cfg(8, 0, 0);
    uint8_t msg[100], f[64], out[100];
    uint32_t n, got = 0, cfs_burst = 0, i;
    const uint8_t fc_bs2_st5[3] = {0x30, 2, 5};
    const uint8_t fc_wait[3] = {0x31, 0, 0};
    for (i = 0; i < 100; i++) {
        msg[i] = (uint8_t)i;
    }
    MF_CHECK(mf_isotp_init(&tp, &c) == MF_OK);
    MF_CHECK(mf_isotp_send(&tp, &c, msg, 100) == MF_OK);
    MF_CHECK(pop(&c, f, &n) == 1 && n == 8 && f[0] == 0x10 && f[1] == 100);
    memcpy(out, f + 2, 6);
    got = 6;
    MF_CHECK(pop(&c, f, &n) == 0);                       /* waits for the FC */
    MF_CHECK(mf_isotp_on_frame(&tp, &c, fc_wait, 3) == 0);
    mf_isotp_tick(&tp, &c, 0.9f);
    MF_CHECK(mf_isotp_on_frame(&tp, &c, fc_wait, 3) == 0);   /* WAIT restarts N_Bs */
    mf_isotp_tick(&tp, &c, 0.9f);
    MF_CHECK(!mf_isotp_tx_idle(&tp));
    MF_CHECK(mf_isotp_on_frame(&tp, &c, fc_bs2_st5, 3) == 0);
    while (got < 100) {
        int k = 0;
        cfs_burst = 0;
        while (pop(&c, f, &n) == 1) {
            MF_CHECK(n == 8 && (f[0] & 0xF0) == 0x20);
            memcpy(out + got, f + 1, 100 - got < 7 ? 100 - got : 7);
            got += 100 - got < 7 ? 100 - got : 7;
            cfs_burst++;
            k++;
        }
        MF_CHECK(cfs_burst <= 1);                        /* STmin 5 ms between CFs */
        mf_isotp_tick(&tp, &c, 0.003f);
        if (pop(&c, f, &n) == 1) {                       /* 3 ms < STmin: nothing may go */
            MF_CHECK(0);
        }
        mf_isotp_tick(&tp, &c, 0.0025f);
        if (tp.tx_state == 2) {                           /* a block of 2 went: next FC */
            MF_CHECK(mf_isotp_on_frame(&tp, &c, fc_bs2_st5, 3) == 0);
        }
        (void)k;
    }
    MF_CHECK(memcmp(out, msg, 100) == 0 && mf_isotp_tx_idle(&tp) && tp.counters.tx_msgs == 1);
    /* no FC at all: N_Bs aborts */
    MF_CHECK(mf_isotp_send(&tp, &c, msg, 50) == MF_OK);
    MF_CHECK(pop(&c, f, &n) == 1);
    mf_isotp_tick(&tp, &c, 1.01f);
    MF_CHECK(mf_isotp_tx_idle(&tp) && tp.counters.tx_aborts == 1);
}

static void test_can_fd(void)
{
    mf_isotp_config_t c = cfg(64, 0, 0);
    uint8_t msg[200], f[64], fr[64];
    uint32_t n, i;
    for (i = 0; i < 200; i++) {
        msg[i] = (uint8_t)(i ^ 0x5A);
    }
    MF_CHECK(mf_isotp_init(&tp, &c) == MF_OK);
    /* an FD single frame with the escape length */
    fr[0] = 0x00;
    fr[1] = 20;
    memcpy(fr + 2, msg, 20);
    memset(fr + 22, 0xCC, 2);
    MF_CHECK(mf_isotp_on_frame(&tp, &c, fr, 24) == MF_ISOTP_RX_DONE);
    MF_CHECK(tp.rx_len == 20 && memcmp(tp.rx_buf, msg, 20) == 0);
    /* an FD answer of 30 bytes: SF escape, exactly a 32-byte frame */
    MF_CHECK(mf_isotp_send(&tp, &c, msg, 30) == MF_OK);
    MF_CHECK(pop(&c, f, &n) == 1 && n == 32 && f[0] == 0 && f[1] == 30 && f[31] == msg[29]);
    /* 200 bytes: FF of 64 (62 data), CFs of 63 data, the last padded to a valid length */
    MF_CHECK(mf_isotp_send(&tp, &c, msg, 200) == MF_OK);
    MF_CHECK(pop(&c, f, &n) == 1 && n == 64 && f[0] == 0x10 && f[1] == 200);
    fr[0] = 0x30;
    fr[1] = 0;
    fr[2] = 0;
    MF_CHECK(mf_isotp_on_frame(&tp, &c, fr, 3) == 0);
    MF_CHECK(pop(&c, f, &n) == 1 && n == 64 && f[0] == 0x21 && memcmp(f + 1, msg + 62, 63) == 0);
    MF_CHECK(pop(&c, f, &n) == 1 && n == 64 && f[0] == 0x22);
    MF_CHECK(pop(&c, f, &n) == 1 && n == 16 && f[0] == 0x23 && memcmp(f + 1, msg + 188, 12) == 0 && f[13] == 0xCC);
    MF_CHECK(mf_isotp_tx_idle(&tp));
    MF_CHECK(mf_isotp_frame_len(0) == 8 && mf_isotp_frame_len(9) == 12 && mf_isotp_frame_len(25) == 32
             && mf_isotp_frame_len(33) == 48 && mf_isotp_frame_len(49) == 64);
}

int main(void)
{
    test_config();
    test_single_frames();
    test_multi_frame_receive(0);
    test_multi_frame_receive(8);
    test_receive_errors();
    test_multi_frame_send();
    test_can_fd();
    return mf_test_report("test_isotp");
}
