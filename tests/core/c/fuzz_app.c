/* fuzz_app.c - libFuzzer harness of the actuator application's CAN dispatch.
 *
 *   C=../../../actuators/core; P=../../../actuators/protocol
 *   clang -std=c99 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *         -I$C -I$P fuzz_app.c $C/[a-z]*.c $P/myofoc_can.c -o fuzz_app
 *   ./fuzz_app -max_total_time=20
 *
 * (not built by `make run`: it needs clang's libFuzzer; tests/core/test_app_fuzz.py
 * builds and runs it when clang is installed.)
 *
 * Each input is a fresh node (primed by its first byte: idle, armed, or
 * running a current command) followed by a script of operations: frames
 * with any ID, length, bytes and FD flag; PWM periods with fuzzed sensing;
 * ticks; parameter-page loads. After every frame the harness checks the
 * invariants and traps on a violation:
 *   - every frame is counted exactly once: rx_ok + rx_ignored + rx_reject;
 *   - the rejection counters add up to rx_reject;
 *   - a rejected or ignored frame changes neither the command, nor the
 *     configuration, nor the parameters (nothing moves);
 *   - the state is one of the five and the queue never exceeds its length.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "app_fixture.h"
#include "mf_app.h"
#include "mf_err.h"

#define CHECK(cond)              \
    do {                         \
        if (!(cond)) {           \
            __builtin_trap();    \
        }                        \
    } while (0)

static mf_app_config_t fuzz_config(void)
{
    mf_app_config_t c = app_fixture_config(5u);
    c.app.group_id = 3u;
    c.app.group_slot = 2u;
    return c;
}

static void isr_steps(mf_app_t *a, unsigned n, const uint8_t *s)
{
    mf_ctrl_sense_t in;
    mf_ctrl_pwm_t out;
    unsigned k;
    in.adc_i[0] = (uint16_t)(32768u + (unsigned)(s[0] & 0x0Fu));
    in.adc_i[1] = (uint16_t)(32768u - (unsigned)(s[0] >> 4));
    in.adc_i[2] = 32768u;
    in.adc_vbus = (uint16_t)(4000u + 8u * s[1]);
    in.enc_count = (uint32_t)s[1] * 64u;
    in.temp_motor_c = 25.0f;
    in.temp_fet_c = 30.0f;
    for (k = 0; k < n; k++) {
        (void)mf_app_isr(a, &in, &out);
    }
}

static void check_counters(const mf_app_t *a, uint32_t frames)
{
    const mf_app_counters_t *c = &a->cnt;
    CHECK(c->rx_ok + c->rx_ignored + c->rx_reject == frames);
    CHECK(c->rx_unknown_id + c->rx_bad_length + c->rx_out_of_range + c->rx_non_finite + c->rx_wrong_state ==
          c->rx_reject);
    CHECK(a->state <= (uint8_t)MF_APP_FAULT);
    CHECK(a->tx_count <= MF_APP_TX_LEN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mf_app_t app; /* harness storage (large); re-initialised per input */
    static mf_app_t before;
    static uint8_t page[MF_PARAMS_PAGE_MAX];
    mf_app_config_t cfg = fuzz_config();
    mf_app_frame_t f;
    uint32_t frames = 0u;
    size_t pos = 1u;
    const uint8_t enable[2] = {1u, 7u};
    const uint8_t current[8] = {0, 0, 0, 0, 0, 0, 0x80u, 0x3Fu}; /* i_q = 1 A */

    if (size < 1u) {
        return 0;
    }
    CHECK(mf_app_init(&app, &cfg) == MF_OK);
    isr_steps(&app, 4u, (const uint8_t *)"\0\0");
    mf_app_tick(&app, 0.001f);
    if ((data[0] & 3u) >= 1u) {
        CHECK(mf_app_on_frame(&app, 0x185u, enable, 2u, false) == MF_OK);
        frames++;
    }
    if ((data[0] & 3u) >= 2u) {
        CHECK(mf_app_on_frame(&app, 0x285u, current, 8u, false) == MF_OK);
        frames++;
    }

    while (pos + 4u <= size) {
        uint8_t op = data[pos];
        if ((op & 7u) <= 4u) { /* a frame */
            uint32_t id = (uint32_t)data[pos + 1] | ((uint32_t)data[pos + 2] << 8);
            size_t len = data[pos + 3];
            int rc;
            bool fd = (op & 0x08u) != 0u;
            if ((op & 0x10u) == 0u) {
                id &= 0x7FFu; /* mostly valid 11-bit IDs */
            }
            if ((op & 0x20u) == 0u) {
                id = (id & 0x780u) | ((op & 0x40u) ? 0u : 5u); /* mostly this node or broadcast */
            }
            pos += 4u;
            if (len > size - pos) {
                len = size - pos;
            }
            before = app;
            rc = mf_app_on_frame(&app, id, data + pos, (uint8_t)len, fd);
            frames++;
            pos += len;
            CHECK(rc == MF_OK || rc == MF_APP_IGNORED || rc == MF_EINVAL || rc == MF_ERANGE ||
                  rc == MF_ESTATE);
            if (rc != MF_OK) { /* nothing moves on a refused or foreign frame */
                CHECK(memcmp(&before.ctrl.cmd, &app.ctrl.cmd, sizeof app.ctrl.cmd) == 0);
                CHECK(memcmp(&before.ctrl_cfg, &app.ctrl_cfg, sizeof app.ctrl_cfg) == 0);
                CHECK(memcmp(&before.par, &app.par, sizeof app.par) == 0);
            }
            check_counters(&app, frames);
        } else if ((op & 7u) == 5u) {
            isr_steps(&app, 1u + (data[pos + 1] & 0x3Fu), data + pos + 2);
            pos += 4u;
        } else if ((op & 7u) == 6u) {
            mf_app_tick(&app, (float)data[pos + 1] * 0.002f);
            while (mf_app_tx_pop(&app, &f)) {
                CHECK(f.len <= MF_APP_FRAME_MAX && f.id <= 0x7FFu);
            }
            if (mf_app_save_requested(&app)) {
                int n = mf_app_params_save(&app, page, sizeof page);
                CHECK(n > 0);
                mf_app_save_done(&app, (data[pos + 2] & 1u) ? MF_OK : MF_EINVAL);
            }
            pos += 4u;
        } else { /* a page: the rest of the input, or our own image */
            int rc;
            if (data[pos + 1] & 1u) {
                rc = mf_app_params_load(&app, data + pos + 2, size - pos - 2u);
                CHECK(rc == MF_OK || rc == MF_EINVAL || rc == MF_ERANGE || rc == MF_ESTATE);
                break;
            }
            rc = mf_app_params_save(&app, page, sizeof page);
            CHECK(rc > 0);
            rc = mf_app_params_load(&app, page, (size_t)rc);
            CHECK(rc == MF_OK || rc == MF_ESTATE);
            pos += 4u;
        }
    }
    check_counters(&app, frames);
    return 0;
}
