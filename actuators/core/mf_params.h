/* mf_params.h - the actuator's parameter table and its flash page image.
 *
 * A const table of descriptors names every parameter a host may read or
 * write over CAN (ParamRequest/ParamReply): index, name, unit, range, default,
 * flags and where the value lives (a field of mf_ctrl_config_t, of
 * mf_app_params_t, of the injection config mf_inject_config_t that the
 * Control INJECT starts, of the controller's state mf_ctrl_t (read-only live
 * signals and injection results), or a constant). Every value travels as float32; integer
 * and boolean parameters must be whole numbers in their range (exact up to
 * 2^24).
 *
 * Flags:
 *   MF_PARAM_PERSISTENT  stored in the flash page (mf_params_serialise)
 *   MF_PARAM_READ_ONLY   writes are refused (information, constants)
 *   MF_PARAM_IDLE_ONLY   may change only while the actuator does not drive
 *                        the motor (node state BOOT, IDLE or FAULT): the
 *                        controller derives state from it at init (gear
 *                        ratio, encoder direction and offset, PLL bandwidth),
 *                        or it changes the meaning of commands (node id,
 *                        group, slot, MIT ranges). mf_app re-initialises the
 *                        controller after such a write.
 * The others (gains, limits, protection thresholds, muscle, heartbeat) are
 * read by the controller in every step and may change while running.
 *
 * Page image (little-endian, byte by byte, independent of the CPU):
 *   0  magic   u32  MF_PARAMS_MAGIC ("MFPT")
 *   4  version u16  MF_PARAMS_PAGE_VERSION (the table layout)
 *   6  count   u16  number of records n, 1..MF_PARAMS_COUNT
 *   8  n records: index u16, value u32 (IEEE float32 bits)
 *   8+6n crc   u32  CRC-32 (IEEE 802.3, reflected 0xEDB88320, init and
 *                   final xor 0xFFFFFFFF; zlib's crc32) of bytes [0, 8+6n)
 * A flash page may be longer than the image; the rest is ignored.
 * Loading validates everything first (magic, version, length, CRC, every
 * index known, persistent and not repeated, every value in range) and only
 * then writes the values: a bad page changes nothing.
 *
 * The table's `def` values equal the defaults of actuators/core/config.py
 * (CtrlConfig) and protocol.MINI_CHEETAH_RANGES; a board's own values come in
 * through the config given to mf_app_init(), which is what a bad page leaves
 * in place.
 */
#ifndef MF_PARAMS_H
#define MF_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mf_ctrl.h"
#include "mf_inject.h"

#define MF_PARAMS_MAGIC 0x5450464Du    /* bytes 'M' 'F' 'P' 'T' little-endian */
#define MF_PARAMS_PAGE_VERSION 1u      /* bump when an index changes meaning */
#define MF_PARAMS_HEADER_BYTES 8u
#define MF_PARAMS_RECORD_BYTES 6u
#define MF_PARAMS_CRC_BYTES 4u
#define MF_PARAMS_COUNT 128u           /* upper bound of the table's length */
/* Bytes a page image needs at most. */
#define MF_PARAMS_PAGE_MAX \
    (MF_PARAMS_HEADER_BYTES + MF_PARAMS_RECORD_BYTES * MF_PARAMS_COUNT + MF_PARAMS_CRC_BYTES)

#define MF_PARAM_PERSISTENT 0x01u
#define MF_PARAM_READ_ONLY 0x02u
#define MF_PARAM_IDLE_ONLY 0x04u

#define MF_GROUP_SLOTS 8u              /* actuators per CAN FD group frame */
#define MF_NODE_ID_MAX 127u

typedef enum {
    MF_PARAM_F32 = 0,   /* float */
    MF_PARAM_U8 = 1,    /* uint8_t, whole numbers */
    MF_PARAM_I32 = 2,   /* int32_t, whole numbers */
    MF_PARAM_U32 = 3,   /* uint32_t, whole numbers <= 2^24 */
    MF_PARAM_BOOL = 4   /* bool, 0 or 1 */
} mf_param_type_t;

typedef enum {
    MF_PARAM_IN_CTRL = 0,  /* a field of mf_ctrl_config_t */
    MF_PARAM_IN_APP = 1,   /* a field of mf_app_params_t */
    MF_PARAM_CONST = 2,    /* a constant: the descriptor's def */
    MF_PARAM_IN_INJECT = 3,/* a field of mf_inject_config_t (not persistent) */
    MF_PARAM_IN_STATE = 4  /* a field of mf_ctrl_t (read-only, not persistent) */
} mf_param_where_t;

/* MIT-mode raw ranges of the impedance command and the state reply (board
 * file P_MIN/P_MAX, ...; Python protocol.ImpedanceRanges). Output side. */
typedef struct {
    float p_min_rad;        /* rad, < p_max_rad */
    float p_max_rad;        /* rad */
    float v_min_rad_s;      /* rad/s, < v_max_rad_s */
    float v_max_rad_s;      /* rad/s */
    float kp_max_nm_rad;    /* N m/rad, > 0 */
    float kd_max_nms_rad;   /* N m s/rad, > 0 */
    float tau_min_nm;       /* N m, < tau_max_nm */
    float tau_max_nm;       /* N m */
} mf_mit_ranges_t;

/* The application's own parameters (the controller's are mf_ctrl_config_t). */
typedef struct {
    uint8_t node_id;            /* CAN node id, 1..127 */
    uint8_t group_id;           /* CAN FD group id, 1..127; 0 = in no group */
    uint8_t group_slot;         /* slot in the group frames, 0..7 */
    float heartbeat_period_s;   /* Heartbeat and Status period, s, [0.01, 10] */
    mf_mit_ranges_t ranges;     /* MIT raw ranges */
} mf_app_params_t;

typedef struct {
    uint16_t index;      /* ParamRequest.param_index */
    const char *name;    /* C path of the field, e.g. "current.pi_q.kp" */
    const char *unit;    /* SI unit, "" when none */
    float min;           /* smallest value accepted */
    float max;           /* largest value accepted */
    float def;           /* default (the value of a MF_PARAM_CONST) */
    uint8_t flags;       /* MF_PARAM_* */
    uint8_t where;       /* mf_param_where_t */
    uint8_t type;        /* mf_param_type_t */
    uint16_t offset;     /* byte offset of the field in its struct */
} mf_param_desc_t;

/* Number of descriptors in the table (<= MF_PARAMS_COUNT). */
size_t mf_params_count(void);
/* The k-th descriptor in index order, NULL when k >= mf_params_count(). */
const mf_param_desc_t *mf_params_at(size_t k);
/* The descriptor of an index, NULL when the index is unknown. */
const mf_param_desc_t *mf_params_find(uint16_t index);

/* Read a parameter as float into *value. MF_OK, or MF_ENULL. */
int mf_params_get(const mf_param_desc_t *d, const mf_ctrl_config_t *c,
                  const mf_app_params_t *p, float *value);
/* Write a parameter after checking its own range (and wholeness for
 * integer types): MF_OK; MF_ERANGE for a non-finite or out-of-range value
 * (nothing written); MF_ESTATE for a read-only or constant parameter;
 * MF_ENULL. Cross-field consistency is the caller's check
 * (mf_ctrl_config_problem, mf_app_params_problem). */
int mf_params_set(const mf_param_desc_t *d, mf_ctrl_config_t *c,
                  mf_app_params_t *p, float value);
/* The same two for a descriptor whose field lives in the struct at base
 * (MF_PARAM_IN_INJECT: an mf_inject_config_t; MF_PARAM_IN_STATE: an
 * mf_ctrl_t; also the other kinds with their struct). Same results. */
int mf_params_get_at(const mf_param_desc_t *d, const void *base, float *value);
int mf_params_set_at(const mf_param_desc_t *d, void *base, float value);
/* Write every table default into c and p (fields not in the table are left
 * as they are). */
void mf_params_defaults(mf_ctrl_config_t *c, mf_app_params_t *p);
/* Name of the first invalid field of p, NULL when valid: every field in its
 * table range, finite, p_min < p_max, v_min < v_max, tau_min < tau_max. */
const char *mf_app_params_problem(const mf_app_params_t *p);

/* CRC-32 (IEEE, as zlib.crc32) of len bytes, bitwise (no table). */
uint32_t mf_params_crc32(const uint8_t *data, size_t len);
/* Write the page image of every persistent parameter into page. Returns the
 * number of bytes written, MF_ERANGE when len is too small, MF_ENULL. */
int mf_params_serialise(const mf_ctrl_config_t *c, const mf_app_params_t *p,
                        uint8_t *page, size_t len);
/* Validate a page image and, only if all of it is valid, write its values
 * into c and p. MF_OK; MF_EINVAL for a bad magic, version, count, length
 * (truncated), CRC, or an unknown, repeated or non-persistent index;
 * MF_ERANGE for a value outside its parameter's range; MF_ENULL. On any
 * error c and p are untouched. */
int mf_params_deserialise(mf_ctrl_config_t *c, mf_app_params_t *p,
                          const uint8_t *page, size_t len);

#endif /* MF_PARAMS_H */
