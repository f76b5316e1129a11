/* mf_uds.h - the bootloader's UDS (ISO 14229-1) server over ISO-TP.
 *
 * One server per node, on the node's request/response IDs (the DBC's UDS
 * functions: request 0x700 | node_id, response 0x780 | node_id). The caller
 * (the MCU main loop, or actuators/sim_node.py) feeds each request-ID frame
 * to mf_uds_on_frame, sends what mf_uds_tx_pop hands out on the response
 * ID, calls mf_uds_poll every few ms with the elapsed time, and resets the
 * node (mf_uds_boot) when mf_uds_reset_pending says an ECUReset answered.
 *
 * Services (NRC = negative response 0x7F SID code):
 *   0x10 DiagnosticSessionControl  01 default, 02 programming, 03 extended;
 *        answer 50 xx P2 (ms, 2 bytes) P2* (10 ms, 2 bytes). A change of
 *        session locks security again and drops a download.
 *   0x11 ECUReset                  01 hard, 03 soft: the node resets once
 *        the answer went out.
 *   0x27 SecurityAccess            01 requestSeed (4-byte seed; 0 when already
 *        unlocked), 02 sendKey. Programming or extended session. Key =
 *        mf_uds_key(seed, security_secret). 3 wrong keys: NRC 0x36, then
 *        NRC 0x37 for lockout_s. Not the security boundary: the image
 *        signature is (the secret is in every node of a board).
 *   0x31 RoutineControl 01 (start) routines, answer 71 01 RID status:
 *        0xFF00 erase slot   option: slot (1 byte, 0 = A, 1 = B; none = the
 *                            target slot), optionally followed by the bytes
 *                            to erase (u32 big-endian, 0 = all; the pages
 *                            holding that many bytes from the slot's start);
 *                            programming session, unlocked.
 *        0xFF01 check image  option: slot (as above); programming, unlocked;
 *                            on success the image becomes pending (trial
 *                            boot at the next reset). status 0 = passed,
 *                            else mf_uds_check_status() of the MF_BOOT_E* code.
 *        0xFF02 confirm      the running image (mf_boot_confirm); any session.
 *        Erase and check answer NRC 0x78 (response pending) at once and the
 *        final answer when done (the work runs in mf_uds_poll).
 *   0x34 RequestDownload    data format 00, address-and-length format 0x44,
 *        address = the slot's start (image header first), size = image bytes;
 *        the slot must have been erased (0xFF00) in this session, at
 *        least size bytes of it (else NRC 0x70). Answer
 *        74 20 + max block length (MF_UDS_MAX_BLOCK: SID, counter and data).
 *   0x36 TransferData       block sequence counter 01, 02, ... FF, 00, ...;
 *        a block repeated with the last accepted counter (its answer was
 *        lost) is answered again without writing; another counter: NRC 0x73.
 *   0x37 RequestTransferExit all announced bytes received.
 *   0x22 ReadDataByIdentifier (one or more DIDs), 0x2E WriteDataByIdentifier
 *        (0xF18C only: programming or extended session, unlocked).
 *   0x3E TesterPresent 00 (keeps a non-default session alive: S3 = s3_s).
 * Sub-function bit 7 (suppressPosRspMsgIndicationBit) is honoured.
 *
 * Data identifiers (big-endian numbers):
 *   0xF189  32 bytes  running image's version text (NUL padded; zeros: none)
 *   0xF18C  16 bytes  serial number (boot record), ASCII NUL padded
 *   0xFD00   4 bytes  board id
 *   0xFD01  12 bytes  running slot, trial boot (0/1), target slot, active slot
 *                     (0 = A, 1 = B, 0xFF = none), target slot address,
 *                     slot size (bytes)
 *   0xFD02  12 bytes  boot record: seq (4), active, pending, trial, copy (1
 *                     each), security counter (4)
 *   0xFD03  12 bytes  running image: fw_version, security_counter, board id
 *   0xFD04  18 bytes  slot A then B: header valid (1), fw_version (4),
 *                     security_counter (4)
 */
#ifndef MF_UDS_H
#define MF_UDS_H

#include <stdbool.h>
#include <stdint.h>

#include "mf_boot.h"
#include "mf_isotp.h"

#define MF_UDS_MAX_BLOCK 4090u   /* maxNumberOfBlockLength: SID + counter + 4088 data bytes */

#define MF_UDS_DID_VERSION 0xF189u
#define MF_UDS_DID_SERIAL 0xF18Cu
#define MF_UDS_DID_BOARD 0xFD00u
#define MF_UDS_DID_SLOTS 0xFD01u
#define MF_UDS_DID_RECORD 0xFD02u
#define MF_UDS_DID_RUNNING 0xFD03u
#define MF_UDS_DID_IMAGES 0xFD04u

#define MF_UDS_RID_ERASE 0xFF00u
#define MF_UDS_RID_CHECK 0xFF01u
#define MF_UDS_RID_CONFIRM 0xFF02u

#define MF_UDS_SESSION_DEFAULT 1u
#define MF_UDS_SESSION_PROGRAMMING 2u
#define MF_UDS_SESSION_EXTENDED 3u

typedef struct {
    mf_isotp_config_t tp;          /* transport */
    mf_boot_config_t boot;         /* slots, record, flash, key */
    uint32_t security_secret;      /* per-board secret of the seed/key function */
    float s3_s;                    /* session timeout without requests, s (ISO: 5 s) */
    float lockout_s;               /* SecurityAccess delay after max_attempts wrong keys, s */
    uint8_t max_attempts;          /* wrong keys before the lockout, >= 1 */
    uint16_t p2_ms;                /* P2server reported in the session answer, ms */
    uint16_t p2_star_10ms;         /* P2*server reported, units of 10 ms */
    uint32_t erase_pages_per_poll; /* flash pages erased per mf_uds_poll, >= 1 */
    uint32_t check_bytes_per_poll; /* image bytes checked per mf_uds_poll, >= 1 */
} mf_uds_config_t;

typedef struct {
    uint32_t requests;           /* requests processed */
    uint32_t negative;           /* negative responses sent (0x78 not counted) */
    uint32_t resets;             /* mf_uds_boot calls */
} mf_uds_counters_t;

typedef struct {
    mf_isotp_t tp;
    mf_boot_t boot;
    uint8_t session;             /* MF_UDS_SESSION_* */
    uint8_t unlocked;            /* 1: SecurityAccess passed in this session */
    uint8_t seed_sent;           /* 1: a seed awaits its key */
    uint8_t failed_attempts;     /* wrong keys in a row */
    uint32_t seed;               /* the seed sent */
    uint32_t entropy;            /* entropy pool (mf_uds_add_entropy) */
    uint32_t seeds_made;
    float s3_timer_s;            /* time left in a non-default session, s */
    float lockout_timer_s;       /* SecurityAccess lockout left, s */
    uint8_t dl_active;           /* 1: between RequestDownload and RequestTransferExit */
    uint8_t dl_have_block;       /* 1: at least one block accepted */
    uint8_t dl_counter;          /* last accepted block sequence counter */
    uint8_t busy;                /* 0 none, 1 erasing, 2 checking (answer pending) */
    uint8_t busy_slot;
    float busy_timer_s;          /* time since the last 0x78, s */
    uint8_t reset_request;       /* ECUReset type answered, 0 = none */
    mf_uds_counters_t counters;
} mf_uds_t;

/* Check the config, reset the server and the transport, load the boot
 * record and select the slot to run (mf_boot_select): a node reset.
 * Returns the slot running (0, 1) or MF_ESTATE (no bootable image: the
 * server still runs, so an image can be downloaded), MF_EINVAL for a bad
 * config field. The entropy pool survives. */
int mf_uds_boot(mf_uds_t *u, const mf_uds_config_t *c);

/* A frame received on the request ID (len <= 64 bytes). */
int mf_uds_on_frame(mf_uds_t *u, const mf_uds_config_t *c, const uint8_t *data, uint32_t len);

/* The next frame to send on the response ID (see mf_isotp_tx_pop). */
int mf_uds_tx_pop(mf_uds_t *u, const mf_uds_config_t *c, uint8_t frame[64], uint32_t *len);

/* Timers (dt_s, s) and a slice of a pending erase or check. */
void mf_uds_poll(mf_uds_t *u, const mf_uds_config_t *c, float dt_s);

/* ECUReset type (1 hard, 3 soft) once its answer went out, else 0. */
int mf_uds_reset_pending(const mf_uds_t *u);

/* Mix 32 bits of noise (ADC LSBs, a timer, a TRNG) into the seed pool. */
void mf_uds_add_entropy(mf_uds_t *u, uint32_t noise);

/* The SecurityAccess key of a seed:
 *   key = fmix32(fmix32(seed ^ secret) ^ rotl32(secret, 13))
 * with fmix32 MurmurHash3's 32-bit finalizer
 *   h ^= h >> 16; h *= 0x85EBCA6B; h ^= h >> 13; h *= 0xC2B2AE35; h ^= h >> 16. */
uint32_t mf_uds_key(uint32_t seed, uint32_t secret);

/* RoutineControl 0xFF01 status byte of an MF_BOOT_E* code (0 for MF_OK):
 * 1 header, 2 load address, 3 length, 4 CRC, 5 board id, 6 security counter,
 * 7 unsigned, 8 signature, 9 flash error. */
uint8_t mf_uds_check_status(int rc);

#endif /* MF_UDS_H */
