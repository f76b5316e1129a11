/* mf_isotp.h - ISO 15765-2 (ISO-TP) transport, server side, one peer.
 *
 * Single frames (SF), first frames (FF), consecutive frames (CF) and flow
 * control (FC), on classic CAN (8-byte frames) and CAN FD (frames up to 64
 * bytes: SF with the escape length byte, FF with the 32-bit escape length).
 * What this node sends is padded with config.padding (0xCC): classic frames
 * to 8 bytes, FD frames to the next valid FD length (12, 16, 20, 24, 32, 48,
 * 64); FF and CF use the full tx_dl.
 *
 * Receiving: mf_isotp_on_frame() takes each frame of the request ID; it
 * answers a FF with a FC (CTS, our block_size and st_min; overflow when the
 * message exceeds MF_ISOTP_MAX_BYTES) and returns MF_ISOTP_RX_DONE once a
 * whole message sits in rx_buf[0 .. rx_len). A CF with the wrong sequence
 * number, or no CF within n_cr_s, aborts the reception (counted in
 * errors). A new SF/FF while a reception is under way starts over.
 *
 * Sending: mf_isotp_send() starts a message (it may be built in place in
 * tx_buf); mf_isotp_tx_pop() hands out the next frame when one may go:
 * SF or FF at once, CFs after the peer's FC (CTS; WAIT restarts the n_bs_s
 * wait; OVERFLOW aborts), at most the peer's block size per FC, at least the
 * peer's STmin apart. mf_isotp_tick() runs the timers (dt_s, s).
 * A new message (send) replaces one still being sent.
 *
 * No malloc: both buffers live in the struct (about 8 KiB).
 */
#ifndef MF_ISOTP_H
#define MF_ISOTP_H

#include <stdbool.h>
#include <stdint.h>

#define MF_ISOTP_MAX_BYTES 4095u   /* largest message in either direction, bytes */
#define MF_ISOTP_RX_DONE 1         /* mf_isotp_on_frame: a complete message is in rx_buf */

typedef struct {
    uint8_t tx_dl;       /* length of the frames this node sends: 8 (classic) or 12..64 (FD: 12, 16, 20, 24, 32, 48, 64) */
    uint8_t block_size;  /* BS announced in our FC: CFs per block, 0 = no further FC */
    uint8_t st_min;      /* STmin announced in our FC (ISO 15765-2 raw: 0-127 ms, 0xF1-0xF9 = 100-900 us) */
    uint8_t padding;     /* padding byte, 0xCC */
    float n_bs_s;        /* longest wait for the peer's FC, s (ISO default 1 s) */
    float n_cr_s;        /* longest wait for the peer's next CF, s (ISO default 1 s) */
} mf_isotp_config_t;

typedef struct {
    uint32_t rx_msgs;      /* complete messages received */
    uint32_t tx_msgs;      /* messages sent to the end */
    uint32_t rx_aborts;    /* receptions aborted: wrong SN, N_Cr timeout, overflow, superseded */
    uint32_t tx_aborts;    /* transmissions aborted: N_Bs timeout, FC overflow, superseded */
    uint32_t bad_frames;   /* frames ignored: too short, unknown PCI, unexpected CF/FC */
} mf_isotp_counters_t;

typedef struct {
    /* receiving */
    uint8_t rx_buf[MF_ISOTP_MAX_BYTES];
    uint32_t rx_len;       /* length of the message received or being received, bytes */
    uint32_t rx_pos;       /* bytes received so far */
    uint8_t rx_busy;       /* 1 while a multi-frame reception is under way */
    uint8_t rx_sn;         /* next expected sequence number, 0-15 */
    uint8_t rx_block_left; /* CFs left in this block before we send the next FC (block_size > 0) */
    uint8_t fc_to_send;    /* 0 none, 1 FC CTS, 2 FC OVERFLOW */
    float rx_timer_s;      /* time left for the next CF, s */
    /* sending */
    uint8_t tx_buf[MF_ISOTP_MAX_BYTES];
    uint32_t tx_len;       /* length of the message being sent, bytes */
    uint32_t tx_pos;       /* bytes already handed out */
    uint8_t tx_state;      /* 0 idle, 1 SF/FF to send, 2 waiting for FC, 3 sending CFs */
    uint8_t tx_sn;         /* next sequence number, 0-15 */
    uint8_t tx_bs;         /* peer's block size, 0 = unlimited */
    uint8_t tx_block_left; /* CFs left before waiting for the next FC */
    float tx_st_min_s;     /* peer's STmin, s */
    float tx_timer_s;      /* N_Bs time left (state 2) or STmin time left (state 3), s */
    mf_isotp_counters_t counters;
} mf_isotp_t;

/* Check the config and reset the state; MF_EINVAL for a bad field. */
int mf_isotp_init(mf_isotp_t *t, const mf_isotp_config_t *c);

/* A frame received on this node's request ID (data, len bytes, len <= 64).
 * Returns MF_ISOTP_RX_DONE when a message is complete, 0 otherwise,
 * MF_ERANGE for a frame that was ignored (counted in bad_frames). */
int mf_isotp_on_frame(mf_isotp_t *t, const mf_isotp_config_t *c, const uint8_t *data, uint32_t len);

/* Start sending len bytes (1 .. MF_ISOTP_MAX_BYTES) from msg (msg may be
 * t->tx_buf itself). Replaces a message still being sent. */
int mf_isotp_send(mf_isotp_t *t, const mf_isotp_config_t *c, const uint8_t *msg, uint32_t len);

/* The next frame to send now, if any: copies it into frame (64 bytes of
 * room), sets *len and returns 1; returns 0 when nothing may go now. */
int mf_isotp_tx_pop(mf_isotp_t *t, const mf_isotp_config_t *c, uint8_t frame[64], uint32_t *len);

/* Run the timers dt_s (s): N_Cr, N_Bs and STmin. */
void mf_isotp_tick(mf_isotp_t *t, const mf_isotp_config_t *c, float dt_s);

/* true when no message is being sent (the previous one went out or was aborted). */
bool mf_isotp_tx_idle(const mf_isotp_t *t);

/* The FD frame length that holds n bytes (8 for n <= 8, then 12 .. 64). */
uint32_t mf_isotp_frame_len(uint32_t n);

#endif /* MF_ISOTP_H */
