/* mf_boot.h - A/B application slots, the boot record, image checks, rollback.
 *
 * Flash holds two application slots (A = 0, B = 1); an image (see
 * docs/spec/image_format.md: 512-byte header, then the payload linked at
 * slot start + 512) sits at a slot's start. The boot record says which slot
 * is confirmed (active), which one holds a checked image waiting for its
 * trial boot (pending), whether that trial has begun, the monotonic
 * security counter (anti-rollback) and the board's serial number.
 *
 * The record is kept in two flash pages (record_addr[0], [1]), each copy
 * with a sequence number and a CRC-32: a write goes to the copy that does
 * not hold the current record (erase, program, read back), so a write torn
 * by a reset at any point leaves the other copy intact. At start the valid
 * copy with the higher sequence number wins.
 *
 * Copy layout (64 bytes at the page start, little-endian):
 *   0 magic 0x5242464D ("MFBR")   4 seq   8 active_slot   9 pending_slot
 *  10 trial  11 reserved (0)  12 security_counter  16 serial[16]
 *  32..59 zero  60 CRC-32 (zlib) of bytes [0, 60).   Slots: 0, 1, 0xFF = none.
 *
 * Reset (mf_boot_select):
 *  - a pending image whose trial has not begun: trial = 1 is recorded, then
 *    it boots (one trial);
 *  - a pending image whose trial had begun (it never confirmed) or whose
 *    CRC fails: pending is cleared (rollback) and the active slot boots;
 *  - the active slot boots when its header and payload CRC check;
 *  - otherwise (no record, or the active image is damaged) the first slot
 *    holding an image that passes every check (signature included) becomes
 *    active.
 * mf_boot_confirm (the application, once it runs healthy, or RoutineControl
 * 0xFF02) makes the trial image active and raises the record's security
 * counter to the image's.
 *
 * An image becomes pending (mf_boot_set_pending) only after
 * mf_boot_check_begin/step passed: header (magic, format, size, CRC,
 * reserved, flags), load address = slot start + 512, payload length,
 * payload CRC-32, board id, security counter >= the record's, and the
 * Ed25519 signature over header[0, 128) + payload with config.pubkey.
 * The checks run incrementally (check_step) so the MCU can keep answering
 * the bus; erasing a slot likewise (erase_step).
 */
#ifndef MF_BOOT_H
#define MF_BOOT_H

#include <stdbool.h>
#include <stdint.h>

#include "mf_ed25519.h"
#include "mf_flash.h"

#define MF_BOOT_SLOT_A 0u
#define MF_BOOT_SLOT_B 1u
#define MF_BOOT_NO_SLOT 0xFFu
#define MF_BOOT_HEADER_BYTES 512u
#define MF_BOOT_SIGNED_BYTES 128u      /* header bytes the signature covers */
#define MF_BOOT_RECORD_BYTES 64u
#define MF_BOOT_RECORD_MAGIC 0x5242464Du
#define MF_BOOT_IMAGE_MAGIC 0x3157464Du
#define MF_BOOT_SERIAL_BYTES 16u
#define MF_BOOT_TEXT_BYTES 32u

/* Image check results (negative; also RoutineControl 0xFF01's status byte = -code - 9) */
#define MF_BOOT_EHEADER (-10)     /* magic, format version, header size, header CRC, reserved bytes or flags */
#define MF_BOOT_ELOADADDR (-11)   /* load_addr is not this slot's start + 512 */
#define MF_BOOT_ELENGTH (-12)     /* payload_bytes is 0 or does not fit in the slot */
#define MF_BOOT_ECRC (-13)        /* payload CRC-32 mismatch (damaged or truncated download) */
#define MF_BOOT_EBOARD (-14)      /* board_id is not this board's */
#define MF_BOOT_ECOUNTER (-15)    /* security_counter below the boot record's (rollback refused) */
#define MF_BOOT_EUNSIGNED (-16)   /* no signature and config.require_signature */
#define MF_BOOT_ESIGNATURE (-17)  /* the Ed25519 signature does not verify with config.pubkey */
#define MF_BOOT_EFLASH (-18)      /* a flash callback failed or a read-back differed */

typedef struct {
    mf_flash_t flash;             /* flash callbacks, context, page and program sizes */
    uint32_t slot_addr[2];        /* absolute start of slot A and B, bytes (page aligned) */
    uint32_t slot_bytes;          /* size of each slot, bytes (a multiple of the page size) */
    uint32_t record_addr[2];      /* absolute start of the two boot-record pages */
    uint32_t board_id;            /* this board's [board] id */
    uint8_t pubkey[32];           /* Ed25519 public key the images must be signed with */
    uint8_t require_signature;    /* 1: unsigned images are refused (always 1 in a product) */
} mf_boot_config_t;

typedef struct {
    uint32_t seq;                 /* sequence number of this copy */
    uint8_t active_slot;          /* confirmed slot, or MF_BOOT_NO_SLOT */
    uint8_t pending_slot;         /* checked image waiting for its trial, or MF_BOOT_NO_SLOT */
    uint8_t trial;                /* 1: the pending image's trial boot has begun */
    uint32_t security_counter;    /* lowest security_counter an image may have */
    uint8_t serial[MF_BOOT_SERIAL_BYTES];  /* serial number, ASCII, NUL padded */
} mf_boot_record_t;

typedef struct {
    uint8_t valid;                /* 1: the header checks (not the payload) */
    uint32_t fw_version;          /* major << 16 | minor << 8 | patch */
    uint32_t security_counter;
    uint32_t board_id;
    uint32_t payload_bytes;
    char version_text[MF_BOOT_TEXT_BYTES];  /* NUL padded, not terminated when 32 long */
} mf_boot_image_info_t;

typedef struct {
    mf_boot_record_t rec;         /* the current boot record */
    int8_t rec_copy;              /* the copy holding it: 0, 1, or -1 (none valid) */
    uint8_t running_slot;         /* slot mf_boot_select booted, MF_BOOT_NO_SLOT = none */
    uint8_t trial_boot;           /* 1: the running image is on its trial boot */
    mf_boot_image_info_t running; /* the running image's header */
    /* erasing (erase_begin/step) */
    uint8_t erase_slot;           /* slot being erased, MF_BOOT_NO_SLOT = none */
    uint8_t erased_slot;          /* slot erased completely and not written since */
    uint32_t erase_addr;          /* next page to erase */
    uint32_t erase_end;           /* end of the range being erased */
    uint32_t erased_bytes;        /* bytes from the start of erased_slot that are erased */
    /* writing (write_begin/write/end) */
    uint8_t write_slot;           /* slot being written, MF_BOOT_NO_SLOT = none */
    uint32_t write_addr;          /* next address to program (excluding the carry) */
    uint32_t write_end;           /* end of the announced download */
    uint8_t carry[8];             /* bytes waiting for a whole program unit */
    uint32_t carry_len;
    /* checking (check_begin/step) */
    uint8_t check_slot;           /* slot being checked, MF_BOOT_NO_SLOT = none */
    uint8_t check_done_slot;      /* slot whose check passed last (for set_pending) */
    uint8_t check_hdr[MF_BOOT_SIGNED_BYTES];
    uint8_t check_signed;
    uint32_t check_pos;           /* payload bytes hashed so far */
    uint32_t check_crc;
    mf_ed25519_verify_t verify;
} mf_boot_t;

/* Check the config (slots and record pages page-aligned, in no overlap,
 * page and program sizes) and load the boot record. */
int mf_boot_init(mf_boot_t *b, const mf_boot_config_t *c);

/* The reset logic above; returns the slot booted (0 or 1) or MF_ESTATE
 * when no slot holds a bootable image (the node stays in the bootloader).
 * May write the record (trial begun, rollback, adoption). */
int mf_boot_select(mf_boot_t *b, const mf_boot_config_t *c);

/* The running image confirms itself: MF_OK (also when already confirmed),
 * MF_ESTATE when no image runs, MF_BOOT_EFLASH when the record write fails. */
int mf_boot_confirm(mf_boot_t *b, const mf_boot_config_t *c);

/* The slot a new image goes to: the one not running (A when none runs and
 * none is active). */
uint8_t mf_boot_target_slot(const mf_boot_t *b);

/* Header of the image in a slot (info->valid = 0 when none or damaged). */
int mf_boot_image_info(const mf_boot_config_t *c, uint8_t slot, mf_boot_image_info_t *info);

/* Erase a slot: MF_ESTATE for the running or the active slot. A pending
 * image in it is first dropped from the record. erase_step erases up to
 * max_pages pages: 1 = more to do, 0 = done, negative = error.
 * erase_begin_bytes erases only the pages holding the first `bytes` bytes of
 * the slot (0 = the whole slot; more than the slot: MF_ERANGE): what an
 * image of that length needs, so a small image does not wait for the whole
 * slot (a page erase takes ~20 ms on the STM32G4). A download into the slot
 * must then fit in the erased part (write_begin: MF_ESTATE otherwise). */
int mf_boot_erase_begin(mf_boot_t *b, const mf_boot_config_t *c, uint8_t slot);
int mf_boot_erase_begin_bytes(mf_boot_t *b, const mf_boot_config_t *c, uint8_t slot, uint32_t bytes);
int mf_boot_erase_step(mf_boot_t *b, const mf_boot_config_t *c, uint32_t max_pages);

/* Download into an erased slot: write_begin(addr = the slot's start,
 * length bytes <= slot_bytes), then the data in order (any chunk sizes),
 * then write_end (programs the last partial unit, padded with 0xFF).
 * MF_ESTATE: slot not erased since its last write; MF_ERANGE: address,
 * length or more data than announced; MF_BOOT_EFLASH: program failed. */
int mf_boot_write_begin(mf_boot_t *b, const mf_boot_config_t *c, uint32_t addr, uint32_t length);
int mf_boot_write(mf_boot_t *b, const mf_boot_config_t *c, const uint8_t *data, uint32_t len);
int mf_boot_write_end(mf_boot_t *b, const mf_boot_config_t *c);

/* Check the image in a slot (the checks listed above). check_begin checks
 * the header; check_step hashes up to max_bytes of payload: 1 = more to do,
 * 0 = the image passed, negative = MF_BOOT_E* (the check ends). */
int mf_boot_check_begin(mf_boot_t *b, const mf_boot_config_t *c, uint8_t slot);
int mf_boot_check_step(mf_boot_t *b, const mf_boot_config_t *c, uint32_t max_bytes);

/* Record the slot whose check just passed as pending (trial at the next
 * reset). MF_ESTATE when the last check of that slot did not pass. */
int mf_boot_set_pending(mf_boot_t *b, const mf_boot_config_t *c, uint8_t slot);

/* Store a new serial number (16 bytes) in the boot record. */
int mf_boot_set_serial(mf_boot_t *b, const mf_boot_config_t *c, const uint8_t serial[16]);

#endif /* MF_BOOT_H */
