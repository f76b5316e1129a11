/* vectors.h - the input-vector file of the emulator's vector runner and its
 * output file (firmware_gen/qemu.py writes and reads both).
 *
 * Everything little-endian, packed, no padding.
 * Input:  "MFVI" u32 version, then operations, each a u8 opcode and its
 *         payload, until VEC_OP_END:
 *   VEC_OP_INIT_CTRL   u32 n, n bytes: an mf_ctrl_config_t image (the host's
 *                      Controller.config_bytes(); n must be its sizeof here).
 *                      Result word: mf_ctrl_init's code.
 *   VEC_OP_STEP        a sense record (VEC_SENSE_BYTES): adc_i[3] u16,
 *                      adc_vbus u16, enc_count u32, temp_motor_c f32,
 *                      temp_fet_c f32. mf_ctrl_step; result: its fault bits.
 *   VEC_OP_COMMAND     a command record (VEC_CMD_BYTES): mode u8, force_angle
 *                      u8, then 15 f32: i_d_ref i_q_ref v_d_ref v_q_ref
 *                      theta_e_force v_out_ref p_out_ref tau_ff_nm p_des v_des
 *                      kp kd tau_ff u_flex u_ext; then the inject config
 *                      (mf_inject_config_t, MF_MODE_INJECT; ignored by a core
 *                      without that mode): kind u8, axis u8, use_encoder u8,
 *                      10 f32: amp offset hold freq_hz omega_e_cmd accel_e
 *                      theta0_e lockin_harmonic settle_s window_s. The
 *                      command is zeroed before it is filled.
 *                      mf_ctrl_command; result: its code.
 *   VEC_OP_CLEAR       mf_ctrl_clear_faults; result: the bits that remain.
 *   VEC_OP_ESTOP       mf_ctrl_estop; result 0.
 *   VEC_OP_END         stop.
 * Output: "MFVO" u32 version u32 sizeof(mf_ctrl_config_t), then per
 *   operation (END excluded) VEC_SNAP_WORDS u32 words: the raw bits of
 *   word 0  result (as above, int32 as u32)
 *        1  prot.faults   2 prot.first_fault
 *        3  pwm.pwm_enable | active_mode << 8 | cmd.mode << 16
 *        4-6 pwm.duty[0..2]          7-9 i_abc[0..2]
 *        10 i_d 11 i_q 12 i_d_ref 13 i_q_ref 14 cur.v_d 15 cur.v_q 16 v_bus
 *        17 est.theta_e 18 est.theta_m 19 est.omega_m 20 p_out 21 v_out
 *        22 tau_out_ref 23 tau_out_est 24 prot.derate
 *        25 step_count 26 cmd_rejects
 *   and "MFVE" u32 operations done as the last 8 bytes.
 */
#ifndef MF_VECTORS_H
#define MF_VECTORS_H

#define VEC_MAGIC_IN 0x4956464Du   /* "MFVI" */
#define VEC_MAGIC_OUT 0x4F56464Du  /* "MFVO" */
#define VEC_MAGIC_END 0x4556464Du  /* "MFVE" */
#define VEC_VERSION 1u

#define VEC_OP_END 0u
#define VEC_OP_INIT_CTRL 1u
#define VEC_OP_STEP 2u
#define VEC_OP_COMMAND 3u
#define VEC_OP_CLEAR 4u
#define VEC_OP_ESTOP 5u

#define VEC_SENSE_BYTES 20u
#define VEC_CMD_BYTES 105u  /* 62 + the inject block's 43 */
#define VEC_SNAP_WORDS 27u

#define VEC_IN_FILE "vectors.in"
#define VEC_OUT_FILE "vectors.out"

#endif /* MF_VECTORS_H */
