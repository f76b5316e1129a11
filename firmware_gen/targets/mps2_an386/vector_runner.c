/* vector_runner.c - the emulator's test firmware: replays recorded input
 * vectors through the controller (mf_ctrl_command, mf_ctrl_step, ...) and
 * writes every output's raw float32 bits (format: vectors.h), so that the
 * host can compare them bit for bit with the Cython core. Input and output
 * are host files, read and written through semihosting in blocks. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "mf_ctrl.h"
#include "mf_err.h"
#include "semihost.h"
#include "vec_codec.h"
#include "vectors.h"

#define IO_BLOCK 4096u

typedef struct {
    int32_t fd;
    uint8_t buf[IO_BLOCK];
    uint32_t len;   /* bytes in buf */
    uint32_t pos;   /* next byte (input) */
    bool failed;
} io_t;

static io_t in_io, out_io;
static mf_ctrl_t ctrl;
static mf_ctrl_config_t cfg;
static bool have_cfg;

static void fail(const char *why)
{
    sh_puts("vector_runner: ");
    sh_puts(why);
    sh_puts("\n");
    sh_exit(SH_EXIT_ERROR);
}

static void get(void *dst, uint32_t n)
{
    uint8_t *d = (uint8_t *)dst;
    while (n > 0u) {
        uint32_t k;
        if (in_io.pos == in_io.len) {
            int32_t r = sh_read(in_io.fd, in_io.buf, IO_BLOCK);
            if (r <= 0) {
                fail("input file truncated");
            }
            in_io.len = (uint32_t)r;
            in_io.pos = 0u;
        }
        k = in_io.len - in_io.pos;
        if (k > n) {
            k = n;
        }
        memcpy(d, &in_io.buf[in_io.pos], k);
        in_io.pos += k;
        d += k;
        n -= k;
    }
}

static uint8_t get_u8(void)
{
    uint8_t v;
    get(&v, 1u);
    return v;
}

/* little-endian fields, assembled byte by byte (no alignment needed) */
static uint32_t get_u32(void)
{
    uint8_t b[4];
    get(b, 4u);
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}

static uint16_t get_u16(void)
{
    uint8_t b[2];
    get(b, 2u);
    return (uint16_t)((uint32_t)b[0] | ((uint32_t)b[1] << 8));
}

static float get_f32(void)
{
    uint32_t u = get_u32();
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void flush_out(void)
{
    if (out_io.len > 0u && sh_write(out_io.fd, out_io.buf, out_io.len) != 0) {
        fail("cannot write the output file");
    }
    out_io.len = 0u;
}

static void put_u32(uint32_t v)
{
    if (out_io.len + 4u > IO_BLOCK) {
        flush_out();
    }
    out_io.buf[out_io.len++] = (uint8_t)v;
    out_io.buf[out_io.len++] = (uint8_t)(v >> 8);
    out_io.buf[out_io.len++] = (uint8_t)(v >> 16);
    out_io.buf[out_io.len++] = (uint8_t)(v >> 24);
}

static void put_f32(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    put_u32(u);
}

static void put_snapshot(int32_t result)
{
    const mf_ctrl_t *s = &ctrl;
    mf_ctrl_refresh_outputs(&ctrl, &cfg); /* as the host's Controller.signals() */
    put_u32((uint32_t)result);
    put_u32(s->prot.faults);
    put_u32(s->prot.first_fault);
    put_u32((s->pwm.pwm_enable ? 1u : 0u) | ((uint32_t)s->active_mode << 8) |
            ((uint32_t)s->cmd.mode << 16));
    put_f32(s->pwm.duty[0]);
    put_f32(s->pwm.duty[1]);
    put_f32(s->pwm.duty[2]);
    put_f32(s->i_abc[0]);
    put_f32(s->i_abc[1]);
    put_f32(s->i_abc[2]);
    put_f32(s->i_d);
    put_f32(s->i_q);
    put_f32(s->i_d_ref);
    put_f32(s->i_q_ref);
    put_f32(s->cur.v_d);
    put_f32(s->cur.v_q);
    put_f32(s->v_bus);
    put_f32(s->est.theta_e);
    put_f32(s->est.theta_m);
    put_f32(s->est.omega_m);
    put_f32(s->p_out);
    put_f32(s->v_out);
    put_f32(s->tau_out_ref);
    put_f32(s->tau_out_est);
    put_f32(s->prot.derate);
    put_u32(s->step_count);
    put_u32(s->cmd_rejects);
}

static void need_cfg(void)
{
    if (!have_cfg) {
        fail("an operation before VEC_OP_INIT_CTRL");
    }
}

int main(void)
{
    uint32_t ops = 0u;
    bool done = false;

    in_io.fd = sh_open(VEC_IN_FILE, SH_MODE_RB);
    if (in_io.fd < 0) {
        fail("cannot open " VEC_IN_FILE);
    }
    out_io.fd = sh_open(VEC_OUT_FILE, SH_MODE_WB);
    if (out_io.fd < 0) {
        fail("cannot open " VEC_OUT_FILE);
    }
    if (get_u32() != VEC_MAGIC_IN || get_u32() != VEC_VERSION) {
        fail("not a vector file of this version");
    }
    put_u32(VEC_MAGIC_OUT);
    put_u32(VEC_VERSION);
    put_u32((uint32_t)sizeof(mf_ctrl_config_t));

    while (!done) {
        uint8_t op = get_u8();
        switch (op) {
        case VEC_OP_END:
            done = true;
            break;
        case VEC_OP_INIT_CTRL: {
            uint32_t n = get_u32();
            if (n != (uint32_t)sizeof(mf_ctrl_config_t)) {
                fail("config image size differs from sizeof(mf_ctrl_config_t)");
            }
            get(&cfg, n);
            have_cfg = true;
            put_snapshot((int32_t)mf_ctrl_init(&ctrl, &cfg));
            break;
        }
        case VEC_OP_STEP: {
            mf_ctrl_sense_t in;
            mf_ctrl_pwm_t out;
            need_cfg();
            in.adc_i[0] = get_u16();
            in.adc_i[1] = get_u16();
            in.adc_i[2] = get_u16();
            in.adc_vbus = get_u16();
            in.enc_count = get_u32();
            in.temp_motor_c = get_f32();
            in.temp_fet_c = get_f32();
            put_snapshot((int32_t)mf_ctrl_step(&ctrl, &cfg, &in, &out));
            break;
        }
        case VEC_OP_COMMAND: {
            uint8_t rec[VEC_CMD_BYTES];
            mf_ctrl_cmd_t c;
            need_cfg();
            get(rec, VEC_CMD_BYTES);
            vec_decode_cmd(rec, &c);
            put_snapshot((int32_t)mf_ctrl_command(&ctrl, &cfg, &c));
            break;
        }
        case VEC_OP_CLEAR:
            need_cfg();
            put_snapshot((int32_t)mf_ctrl_clear_faults(&ctrl, &cfg));
            break;
        case VEC_OP_ESTOP:
            need_cfg();
            mf_ctrl_estop(&ctrl);
            put_snapshot(0);
            break;
        default:
            fail("unknown operation");
        }
        if (!done) {
            ops++;
        }
    }
    put_u32(VEC_MAGIC_END);
    put_u32(ops);
    flush_out();
    (void)sh_close(out_io.fd);
    (void)sh_close(in_io.fd);
    return 0;
}
