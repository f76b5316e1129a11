/* mf_isotp.c - ISO 15765-2 server side (see mf_isotp.h). */
#include "mf_isotp.h"

#include <stddef.h>
#include <string.h>

#include "mf_err.h"

enum { TX_IDLE = 0, TX_FIRST = 1, TX_WAIT_FC = 2, TX_CF = 3 };
enum { FC_NONE = 0, FC_CTS = 1, FC_OVERFLOW = 2 };

uint32_t mf_isotp_frame_len(uint32_t n)
{
    if (n <= 8u) {
        return 8u;
    }
    if (n <= 24u) {
        return (n + 3u) & ~3u;   /* 12, 16, 20, 24 */
    }
    if (n <= 32u) {
        return 32u;
    }
    if (n <= 48u) {
        return 48u;
    }
    return 64u;
}

static bool valid_tx_dl(uint8_t dl)
{
    return dl == 8u || (dl > 8u && dl <= 64u && mf_isotp_frame_len(dl) == dl);
}

/* STmin raw -> seconds (ISO 15765-2: 0x00-0x7F ms, 0xF1-0xF9 100-900 us, others 127 ms) */
static float st_min_s(uint8_t raw)
{
    if (raw <= 0x7Fu) {
        return (float)raw * 1.0e-3f;
    }
    if (raw >= 0xF1u && raw <= 0xF9u) {
        return (float)(raw - 0xF0u) * 1.0e-4f;
    }
    return 0.127f;
}

static bool finite_pos(float x)
{
    return x > 0.0f && x < 1.0e9f;   /* false for NaN too */
}

int mf_isotp_init(mf_isotp_t *t, const mf_isotp_config_t *c)
{
    if (t == NULL || c == NULL) {
        return MF_ENULL;
    }
    if (!valid_tx_dl(c->tx_dl) || !finite_pos(c->n_bs_s) || !finite_pos(c->n_cr_s)
        || !(c->st_min <= 0x7Fu || (c->st_min >= 0xF1u && c->st_min <= 0xF9u))) {
        return MF_EINVAL;
    }
    memset(t, 0, sizeof(*t));
    return MF_OK;
}

bool mf_isotp_tx_idle(const mf_isotp_t *t)
{
    return t->tx_state == TX_IDLE;
}

static void rx_abort(mf_isotp_t *t)
{
    if (t->rx_busy) {
        t->counters.rx_aborts++;
    }
    t->rx_busy = 0u;
}

static int on_flow_control(mf_isotp_t *t, const mf_isotp_config_t *c, const uint8_t *d, uint32_t len)
{
    uint8_t fs = (uint8_t)(d[0] & 0x0Fu);
    if (t->tx_state != TX_WAIT_FC || len < 3u) {
        t->counters.bad_frames++;
        return MF_ERANGE;
    }
    if (fs == 0u) {            /* CTS */
        t->tx_bs = d[1];
        t->tx_block_left = d[1];
        t->tx_st_min_s = st_min_s(d[2]);
        t->tx_timer_s = 0.0f;  /* the first CF of a block may go at once */
        t->tx_state = TX_CF;
    } else if (fs == 1u) {     /* WAIT: keep waiting, restart N_Bs */
        t->tx_timer_s = c->n_bs_s;
    } else {                   /* OVERFLOW or reserved: abort */
        t->tx_state = TX_IDLE;
        t->counters.tx_aborts++;
    }
    return 0;
}

int mf_isotp_on_frame(mf_isotp_t *t, const mf_isotp_config_t *c, const uint8_t *data, uint32_t len)
{
    uint8_t type;
    uint32_t n, take;
    if (t == NULL || c == NULL || data == NULL || len == 0u || len > 64u) {
        if (t != NULL) {
            t->counters.bad_frames++;
        }
        return MF_ERANGE;
    }
    type = (uint8_t)(data[0] >> 4);
    switch (type) {
    case 0u: /* single frame */
        n = data[0] & 0x0Fu;
        take = 1u;
        if (n == 0u) {             /* CAN FD escape: length in byte 1 */
            if (len < 2u || len <= 8u) {
                t->counters.bad_frames++;
                return MF_ERANGE;
            }
            n = data[1];
            take = 2u;
        }
        if (n == 0u || n + take > len) {
            t->counters.bad_frames++;
            return MF_ERANGE;
        }
        rx_abort(t);
        memcpy(t->rx_buf, data + take, n);
        t->rx_len = n;
        t->rx_pos = n;
        t->counters.rx_msgs++;
        return MF_ISOTP_RX_DONE;
    case 1u: /* first frame */
        if (len < 8u) {
            t->counters.bad_frames++;
            return MF_ERANGE;
        }
        n = ((uint32_t)(data[0] & 0x0Fu) << 8) | data[1];
        take = 2u;
        if (n == 0u) {             /* escape: 32-bit length */
            n = ((uint32_t)data[2] << 24) | ((uint32_t)data[3] << 16) | ((uint32_t)data[4] << 8) | data[5];
            take = 6u;
        }
        rx_abort(t);
        if (n > MF_ISOTP_MAX_BYTES) {
            t->fc_to_send = FC_OVERFLOW;
            t->counters.rx_aborts++;
            return 0;
        }
        if (n <= len - take) {     /* would have fitted in a single frame */
            t->counters.bad_frames++;
            return MF_ERANGE;
        }
        memcpy(t->rx_buf, data + take, len - take);
        t->rx_len = n;
        t->rx_pos = len - take;
        t->rx_sn = 1u;
        t->rx_busy = 1u;
        t->rx_block_left = c->block_size;
        t->rx_timer_s = c->n_cr_s;
        t->fc_to_send = FC_CTS;
        return 0;
    case 2u: /* consecutive frame */
        if (!t->rx_busy) {
            t->counters.bad_frames++;
            return MF_ERANGE;
        }
        if ((data[0] & 0x0Fu) != t->rx_sn) {
            rx_abort(t);
            return MF_ERANGE;
        }
        take = len - 1u;
        if (take > t->rx_len - t->rx_pos) {
            take = t->rx_len - t->rx_pos;
        }
        memcpy(t->rx_buf + t->rx_pos, data + 1, take);
        t->rx_pos += take;
        t->rx_sn = (uint8_t)((t->rx_sn + 1u) & 0x0Fu);
        t->rx_timer_s = c->n_cr_s;
        if (t->rx_pos >= t->rx_len) {
            t->rx_busy = 0u;
            t->counters.rx_msgs++;
            return MF_ISOTP_RX_DONE;
        }
        if (c->block_size != 0u) {
            t->rx_block_left--;
            if (t->rx_block_left == 0u) {
                t->rx_block_left = c->block_size;
                t->fc_to_send = FC_CTS;
            }
        }
        return 0;
    case 3u: /* flow control for what we send */
        return on_flow_control(t, c, data, len);
    default:
        t->counters.bad_frames++;
        return MF_ERANGE;
    }
}

int mf_isotp_send(mf_isotp_t *t, const mf_isotp_config_t *c, const uint8_t *msg, uint32_t len)
{
    if (t == NULL || c == NULL || msg == NULL) {
        return MF_ENULL;
    }
    if (len == 0u || len > MF_ISOTP_MAX_BYTES) {
        return MF_ERANGE;
    }
    if (t->tx_state != TX_IDLE) {
        t->counters.tx_aborts++;
    }
    if (msg != t->tx_buf) {
        memmove(t->tx_buf, msg, len);
    }
    t->tx_len = len;
    t->tx_pos = 0u;
    t->tx_state = TX_FIRST;
    return MF_OK;
}

static void pad(uint8_t *frame, uint32_t used, uint32_t total, uint8_t padding)
{
    if (total > used) {
        memset(frame + used, padding, total - used);
    }
}

int mf_isotp_tx_pop(mf_isotp_t *t, const mf_isotp_config_t *c, uint8_t frame[64], uint32_t *len)
{
    uint32_t dl, n, total;
    if (t == NULL || c == NULL || frame == NULL || len == NULL) {
        return 0;
    }
    dl = c->tx_dl;
    if (t->fc_to_send != FC_NONE) {
        frame[0] = (uint8_t)(t->fc_to_send == FC_CTS ? 0x30u : 0x32u);
        frame[1] = c->block_size;
        frame[2] = c->st_min;
        pad(frame, 3u, 8u, c->padding);
        *len = 8u;
        t->fc_to_send = FC_NONE;
        return 1;
    }
    switch (t->tx_state) {
    case TX_FIRST:
        if (t->tx_len <= 7u) {                       /* SF, classic PCI */
            frame[0] = (uint8_t)t->tx_len;
            memcpy(frame + 1, t->tx_buf, t->tx_len);
            pad(frame, 1u + t->tx_len, 8u, c->padding);
            *len = 8u;
            t->tx_state = TX_IDLE;
            t->counters.tx_msgs++;
            return 1;
        }
        if (dl > 8u && t->tx_len <= dl - 2u) {       /* FD SF with the escape length */
            frame[0] = 0x00u;
            frame[1] = (uint8_t)t->tx_len;
            memcpy(frame + 2, t->tx_buf, t->tx_len);
            total = mf_isotp_frame_len(2u + t->tx_len);
            pad(frame, 2u + t->tx_len, total, c->padding);
            *len = total;
            t->tx_state = TX_IDLE;
            t->counters.tx_msgs++;
            return 1;
        }
        frame[0] = (uint8_t)(0x10u | ((t->tx_len >> 8) & 0x0Fu));   /* FF */
        frame[1] = (uint8_t)(t->tx_len & 0xFFu);
        n = dl - 2u;
        memcpy(frame + 2, t->tx_buf, n);
        *len = dl;
        t->tx_pos = n;
        t->tx_sn = 1u;
        t->tx_state = TX_WAIT_FC;
        t->tx_timer_s = c->n_bs_s;
        return 1;
    case TX_CF:
        if (t->tx_timer_s > 0.0f) {
            return 0;                                  /* STmin not yet over */
        }
        n = t->tx_len - t->tx_pos;
        if (n > dl - 1u) {
            n = dl - 1u;
        }
        frame[0] = (uint8_t)(0x20u | t->tx_sn);
        memcpy(frame + 1, t->tx_buf + t->tx_pos, n);
        total = dl == 8u ? 8u : mf_isotp_frame_len(1u + n);
        pad(frame, 1u + n, total, c->padding);
        *len = total;
        t->tx_pos += n;
        t->tx_sn = (uint8_t)((t->tx_sn + 1u) & 0x0Fu);
        t->tx_timer_s = t->tx_st_min_s;
        if (t->tx_pos >= t->tx_len) {
            t->tx_state = TX_IDLE;
            t->counters.tx_msgs++;
        } else if (t->tx_bs != 0u) {
            t->tx_block_left--;
            if (t->tx_block_left == 0u) {
                t->tx_state = TX_WAIT_FC;
                t->tx_timer_s = c->n_bs_s;
            }
        }
        return 1;
    default:
        return 0;
    }
}

void mf_isotp_tick(mf_isotp_t *t, const mf_isotp_config_t *c, float dt_s)
{
    (void)c;
    if (t == NULL || !(dt_s > 0.0f)) {
        return;   /* NaN or <= 0: no time passes */
    }
    if (t->rx_busy) {
        t->rx_timer_s -= dt_s;
        if (t->rx_timer_s <= 0.0f) {
            rx_abort(t);                     /* N_Cr */
        }
    }
    if (t->tx_state == TX_WAIT_FC) {
        t->tx_timer_s -= dt_s;
        if (t->tx_timer_s <= 0.0f) {         /* N_Bs */
            t->tx_state = TX_IDLE;
            t->counters.tx_aborts++;
        }
    } else if (t->tx_state == TX_CF && t->tx_timer_s > 0.0f) {
        t->tx_timer_s -= dt_s;               /* STmin */
    }
}
