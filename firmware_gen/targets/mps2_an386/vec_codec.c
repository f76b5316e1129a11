/* vec_codec.c - see vec_codec.h. */
#include "vec_codec.h"

#include <string.h>

uint32_t vec_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static float vec_f32(const uint8_t *p)
{
    uint32_t u = vec_u32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

void vec_decode_cmd(const uint8_t *p, mf_ctrl_cmd_t *c)
{
    memset(c, 0, sizeof *c);
    c->mode = p[0];
    c->force_angle = p[1] != 0u;
    c->i_d_ref = vec_f32(p + 2);
    c->i_q_ref = vec_f32(p + 6);
    c->v_d_ref = vec_f32(p + 10);
    c->v_q_ref = vec_f32(p + 14);
    c->theta_e_force = vec_f32(p + 18);
    c->v_out_ref = vec_f32(p + 22);
    c->p_out_ref = vec_f32(p + 26);
    c->tau_ff_nm = vec_f32(p + 30);
    c->imp.p_des = vec_f32(p + 34);
    c->imp.v_des = vec_f32(p + 38);
    c->imp.kp = vec_f32(p + 42);
    c->imp.kd = vec_f32(p + 46);
    c->imp.tau_ff = vec_f32(p + 50);
    c->u_flex = vec_f32(p + 54);
    c->u_ext = vec_f32(p + 58);
#if MF_MODE_COUNT > 7 /* the core has MF_MODE_INJECT (mf_inject.h) */
    c->inject.kind = p[62];
    c->inject.axis = p[63];
    c->inject.use_encoder = p[64] != 0u;
    c->inject.amp = vec_f32(p + 65);
    c->inject.offset = vec_f32(p + 69);
    c->inject.hold = vec_f32(p + 73);
    c->inject.freq_hz = vec_f32(p + 77);
    c->inject.omega_e_cmd = vec_f32(p + 81);
    c->inject.accel_e = vec_f32(p + 85);
    c->inject.theta0_e = vec_f32(p + 89);
    c->inject.lockin_harmonic = vec_f32(p + 93);
    c->inject.settle_s = vec_f32(p + 97);
    c->inject.window_s = vec_f32(p + 101);
#endif
}
