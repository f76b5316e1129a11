/* vec_codec.h - the packed command record of vectors.h, decoded into
 * mf_ctrl_cmd_t (shared by the vector runner and the PIL entry points). */
#ifndef MF_VEC_CODEC_H
#define MF_VEC_CODEC_H

#include <stdint.h>

#include "mf_ctrl.h"
#include "vectors.h"

/* Little-endian u32 at p. */
uint32_t vec_u32(const uint8_t *p);
/* VEC_CMD_BYTES bytes at p -> *cmd (fields not in the record are 0). */
void vec_decode_cmd(const uint8_t *p, mf_ctrl_cmd_t *cmd);

#endif /* MF_VEC_CODEC_H */
