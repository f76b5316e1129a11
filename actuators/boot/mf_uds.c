/* mf_uds.c - UDS server of the bootloader (see mf_uds.h). */
#include "mf_uds.h"

#include <stddef.h>
#include <string.h>

#include "mf_err.h"

/* negative response codes (ISO 14229-1 annex A) */
#define NRC_SERVICE_NOT_SUPPORTED 0x11u
#define NRC_SUBFUNCTION_NOT_SUPPORTED 0x12u
#define NRC_INCORRECT_LENGTH 0x13u
#define NRC_BUSY_REPEAT 0x21u
#define NRC_CONDITIONS 0x22u
#define NRC_SEQUENCE 0x24u
#define NRC_OUT_OF_RANGE 0x31u
#define NRC_SECURITY_DENIED 0x33u
#define NRC_INVALID_KEY 0x35u
#define NRC_EXCEEDED_ATTEMPTS 0x36u
#define NRC_DELAY_NOT_EXPIRED 0x37u
#define NRC_DOWNLOAD_NOT_ACCEPTED 0x70u
#define NRC_TRANSFER_SUSPENDED 0x71u
#define NRC_PROGRAMMING_FAILURE 0x72u
#define NRC_WRONG_BLOCK_COUNTER 0x73u
#define NRC_PENDING 0x78u
#define NRC_SERVICE_NOT_IN_SESSION 0x7Fu

#define BUSY_NONE 0u
#define BUSY_ERASE 1u
#define BUSY_CHECK 2u
#define PENDING_REPEAT_S 2.0f   /* repeat 0x78 this often while busy (P2* is 5 s) */

static uint32_t fmix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    return h;
}

uint32_t mf_uds_key(uint32_t seed, uint32_t secret)
{
    uint32_t rot = (secret << 13) | (secret >> 19);
    return fmix32(fmix32(seed ^ secret) ^ rot);
}

uint8_t mf_uds_check_status(int rc)
{
    if (rc == MF_OK) {
        return 0u;
    }
    if (rc <= MF_BOOT_EHEADER && rc >= MF_BOOT_EFLASH) {
        return (uint8_t)(-rc - 9);
    }
    return 0xFFu;
}

void mf_uds_add_entropy(mf_uds_t *u, uint32_t noise)
{
    if (u != NULL) {
        u->entropy = fmix32(u->entropy ^ noise) + 0x9E3779B9u;
    }
}

static bool config_ok(const mf_uds_config_t *c)
{
    return c->s3_s > 0.0f && c->s3_s < 1.0e6f && c->lockout_s >= 0.0f && c->lockout_s < 1.0e6f
           && c->max_attempts >= 1u && c->erase_pages_per_poll >= 1u && c->check_bytes_per_poll >= 1u;
}

int mf_uds_boot(mf_uds_t *u, const mf_uds_config_t *c)
{
    uint32_t entropy, seeds;
    mf_uds_counters_t counters;
    int rc;
    if (u == NULL || c == NULL) {
        return MF_ENULL;
    }
    if (!config_ok(c)) {
        return MF_EINVAL;
    }
    entropy = u->entropy;
    seeds = u->seeds_made;
    counters = u->counters;
    memset(u, 0, sizeof(*u));
    u->entropy = entropy;
    u->seeds_made = seeds;
    u->counters = counters;
    u->counters.resets++;
    u->session = MF_UDS_SESSION_DEFAULT;
    rc = mf_isotp_init(&u->tp, &c->tp);
    if (rc != MF_OK) {
        return rc;
    }
    rc = mf_boot_init(&u->boot, &c->boot);
    if (rc != MF_OK) {
        return rc;
    }
    return mf_boot_select(&u->boot, &c->boot);
}

/* ---- responses ------------------------------------------------------------- */

static void respond(mf_uds_t *u, const mf_uds_config_t *c, uint32_t len)
{
    (void)mf_isotp_send(&u->tp, &c->tp, u->tp.tx_buf, len);
}

static void negative(mf_uds_t *u, const mf_uds_config_t *c, uint8_t sid, uint8_t nrc)
{
    u->tp.tx_buf[0] = 0x7Fu;
    u->tp.tx_buf[1] = sid;
    u->tp.tx_buf[2] = nrc;
    if (nrc != NRC_PENDING) {
        u->counters.negative++;
    }
    respond(u, c, 3u);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void drop_download(mf_uds_t *u)
{
    u->dl_active = 0u;
    u->boot.write_slot = MF_BOOT_NO_SLOT;
}

static void set_session(mf_uds_t *u, const mf_uds_config_t *c, uint8_t session)
{
    u->session = session;
    u->unlocked = 0u;
    u->seed_sent = 0u;
    u->s3_timer_s = c->s3_s;
    drop_download(u);
}

/* ---- services -------------------------------------------------------------- */

static uint8_t svc_session(mf_uds_t *u, const mf_uds_config_t *c, const uint8_t *rq, uint32_t n, uint32_t *len)
{
    uint8_t sub;
    uint8_t *o = u->tp.tx_buf;
    if (n != 2u) {
        return NRC_INCORRECT_LENGTH;
    }
    sub = (uint8_t)(rq[1] & 0x7Fu);
    if (sub < MF_UDS_SESSION_DEFAULT || sub > MF_UDS_SESSION_EXTENDED) {
        return NRC_SUBFUNCTION_NOT_SUPPORTED;
    }
    set_session(u, c, sub);
    o[0] = 0x50u;
    o[1] = sub;
    o[2] = (uint8_t)(c->p2_ms >> 8);
    o[3] = (uint8_t)c->p2_ms;
    o[4] = (uint8_t)(c->p2_star_10ms >> 8);
    o[5] = (uint8_t)c->p2_star_10ms;
    *len = 6u;
    return 0u;
}

static uint8_t svc_reset(mf_uds_t *u, const uint8_t *rq, uint32_t n, uint32_t *len)
{
    uint8_t sub;
    if (n != 2u) {
        return NRC_INCORRECT_LENGTH;
    }
    sub = (uint8_t)(rq[1] & 0x7Fu);
    if (sub != 1u && sub != 3u) {
        return NRC_SUBFUNCTION_NOT_SUPPORTED;
    }
    u->reset_request = sub;
    u->tp.tx_buf[0] = 0x51u;
    u->tp.tx_buf[1] = sub;
    *len = 2u;
    return 0u;
}

static uint8_t svc_security(mf_uds_t *u, const mf_uds_config_t *c, const uint8_t *rq, uint32_t n, uint32_t *len)
{
    uint8_t sub;
    uint8_t *o = u->tp.tx_buf;
    if (u->session == MF_UDS_SESSION_DEFAULT) {
        return NRC_SERVICE_NOT_IN_SESSION;
    }
    if (n < 2u) {
        return NRC_INCORRECT_LENGTH;
    }
    sub = (uint8_t)(rq[1] & 0x7Fu);
    if (sub == 1u) {
        if (n != 2u) {
            return NRC_INCORRECT_LENGTH;
        }
        if (u->lockout_timer_s > 0.0f) {
            return NRC_DELAY_NOT_EXPIRED;
        }
        if (u->unlocked) {
            u->seed = 0u;
        } else {
            u->seeds_made++;
            u->seed = fmix32(u->entropy ^ (u->seeds_made * 0x9E3779B9u));
            if (u->seed == 0u) {
                u->seed = 1u;
            }
            u->seed_sent = 1u;
        }
        o[0] = 0x67u;
        o[1] = 1u;
        put32(o + 2, u->seed);
        *len = 6u;
        return 0u;
    }
    if (sub == 2u) {
        if (n != 6u) {
            return NRC_INCORRECT_LENGTH;
        }
        if (!u->seed_sent) {
            return NRC_SEQUENCE;
        }
        u->seed_sent = 0u;
        if (get32(rq + 2) != mf_uds_key(u->seed, c->security_secret)) {
            u->failed_attempts++;
            if (u->failed_attempts >= c->max_attempts) {
                u->failed_attempts = 0u;
                u->lockout_timer_s = c->lockout_s;
                return NRC_EXCEEDED_ATTEMPTS;
            }
            return NRC_INVALID_KEY;
        }
        u->failed_attempts = 0u;
        u->unlocked = 1u;
        o[0] = 0x67u;
        o[1] = 2u;
        *len = 2u;
        return 0u;
    }
    return NRC_SUBFUNCTION_NOT_SUPPORTED;
}

static uint32_t did_data(const mf_uds_t *u, const mf_uds_config_t *c, uint16_t did, uint8_t *o)
{
    const mf_boot_t *b = &u->boot;
    mf_boot_image_info_t info;
    uint8_t s, target;
    switch (did) {
    case MF_UDS_DID_VERSION:
        memset(o, 0, MF_BOOT_TEXT_BYTES);
        if (b->running.valid) {
            memcpy(o, b->running.version_text, MF_BOOT_TEXT_BYTES);
        }
        return MF_BOOT_TEXT_BYTES;
    case MF_UDS_DID_SERIAL:
        memcpy(o, b->rec.serial, MF_BOOT_SERIAL_BYTES);
        return MF_BOOT_SERIAL_BYTES;
    case MF_UDS_DID_BOARD:
        put32(o, c->boot.board_id);
        return 4u;
    case MF_UDS_DID_SLOTS:
        target = mf_boot_target_slot(b);
        o[0] = b->running_slot;
        o[1] = b->trial_boot;
        o[2] = target;
        o[3] = b->rec.active_slot;
        put32(o + 4, c->boot.slot_addr[target]);
        put32(o + 8, c->boot.slot_bytes);
        return 12u;
    case MF_UDS_DID_RECORD:
        put32(o, b->rec.seq);
        o[4] = b->rec.active_slot;
        o[5] = b->rec.pending_slot;
        o[6] = b->rec.trial;
        o[7] = b->rec_copy < 0 ? 0xFFu : (uint8_t)b->rec_copy;
        put32(o + 8, b->rec.security_counter);
        return 12u;
    case MF_UDS_DID_RUNNING:
        put32(o, b->running.fw_version);
        put32(o + 4, b->running.security_counter);
        put32(o + 8, b->running.board_id);
        return 12u;
    case MF_UDS_DID_IMAGES:
        for (s = 0u; s < 2u; s++) {
            (void)mf_boot_image_info(&c->boot, s, &info);
            o[9u * s] = info.valid;
            put32(o + 9u * s + 1u, info.fw_version);
            put32(o + 9u * s + 5u, info.security_counter);
        }
        return 18u;
    default:
        return 0u;
    }
}

static uint8_t svc_read(mf_uds_t *u, const mf_uds_config_t *c, const uint8_t *rq, uint32_t n, uint32_t *len)
{
    uint8_t tmp[64];
    uint32_t i, k, pos = 1u;
    uint16_t did;
    if (n < 3u || (n - 1u) % 2u != 0u || n > 1u + 2u * 16u) {
        return NRC_INCORRECT_LENGTH;
    }
    /* rq points into the receive buffer, the answer is built in the send buffer */
    for (i = 1u; i < n; i += 2u) {
        did = (uint16_t)((rq[i] << 8) | rq[i + 1u]);
        k = did_data(u, c, did, tmp);
        if (k == 0u) {
            return NRC_OUT_OF_RANGE;
        }
        if (pos + 2u + k > MF_ISOTP_MAX_BYTES) {
            return NRC_INCORRECT_LENGTH;
        }
        u->tp.tx_buf[pos] = rq[i];
        u->tp.tx_buf[pos + 1u] = rq[i + 1u];
        memcpy(u->tp.tx_buf + pos + 2u, tmp, k);
        pos += 2u + k;
    }
    u->tp.tx_buf[0] = 0x62u;
    *len = pos;
    return 0u;
}

static uint8_t svc_write(mf_uds_t *u, const mf_uds_config_t *c, const uint8_t *rq, uint32_t n, uint32_t *len)
{
    uint16_t did;
    if (n < 3u) {
        return NRC_INCORRECT_LENGTH;
    }
    if (u->session == MF_UDS_SESSION_DEFAULT) {
        return NRC_SERVICE_NOT_IN_SESSION;
    }
    did = (uint16_t)((rq[1] << 8) | rq[2]);
    if (did != MF_UDS_DID_SERIAL) {
        return NRC_OUT_OF_RANGE;
    }
    if (n != 3u + MF_BOOT_SERIAL_BYTES) {
        return NRC_INCORRECT_LENGTH;
    }
    if (!u->unlocked) {
        return NRC_SECURITY_DENIED;
    }
    if (mf_boot_set_serial(&u->boot, &c->boot, rq + 3) != MF_OK) {
        return NRC_PROGRAMMING_FAILURE;
    }
    u->tp.tx_buf[0] = 0x6Eu;
    u->tp.tx_buf[1] = rq[1];
    u->tp.tx_buf[2] = rq[2];
    *len = 3u;
    return 0u;
}

static void routine_answer(mf_uds_t *u, const mf_uds_config_t *c, uint16_t rid, uint8_t status)
{
    uint8_t *o = u->tp.tx_buf;
    o[0] = 0x71u;
    o[1] = 0x01u;
    o[2] = (uint8_t)(rid >> 8);
    o[3] = (uint8_t)rid;
    o[4] = status;
    respond(u, c, 5u);
}

static uint8_t svc_routine(mf_uds_t *u, const mf_uds_config_t *c, const uint8_t *rq, uint32_t n, uint32_t *len,
                           bool *deferred)
{
    uint8_t sub, slot;
    uint16_t rid;
    uint32_t erase_bytes;
    int rc;
    if (n < 4u) {
        return NRC_INCORRECT_LENGTH;
    }
    sub = (uint8_t)(rq[1] & 0x7Fu);
    rid = (uint16_t)((rq[2] << 8) | rq[3]);
    if (rid != MF_UDS_RID_ERASE && rid != MF_UDS_RID_CHECK && rid != MF_UDS_RID_CONFIRM) {
        return NRC_OUT_OF_RANGE;
    }
    if (sub != 1u) {
        return NRC_SUBFUNCTION_NOT_SUPPORTED;
    }
    if (rid == MF_UDS_RID_CONFIRM) {
        if (n != 4u) {
            return NRC_INCORRECT_LENGTH;
        }
        rc = mf_boot_confirm(&u->boot, &c->boot);
        if (rc == MF_ESTATE) {
            return NRC_CONDITIONS;
        }
        u->tp.tx_buf[0] = 0x71u;
        u->tp.tx_buf[1] = 0x01u;
        u->tp.tx_buf[2] = rq[2];
        u->tp.tx_buf[3] = rq[3];
        u->tp.tx_buf[4] = mf_uds_check_status(rc);
        *len = 5u;
        return 0u;
    }
    if (u->session != MF_UDS_SESSION_PROGRAMMING) {
        return NRC_SERVICE_NOT_IN_SESSION;
    }
    if (!u->unlocked) {
        return NRC_SECURITY_DENIED;
    }
    /* option record: [slot] or, for the erase, [slot, bytes (u32, big-endian)] */
    if (n > 5u && !(n == 9u && rid == MF_UDS_RID_ERASE)) {
        return NRC_INCORRECT_LENGTH;
    }
    erase_bytes = (n == 9u) ? ((uint32_t)rq[5] << 24 | (uint32_t)rq[6] << 16 | (uint32_t)rq[7] << 8 | rq[8]) : 0u;
    if (erase_bytes > c->boot.slot_bytes) {
        return NRC_OUT_OF_RANGE;
    }
    slot = n >= 5u ? rq[4] : mf_boot_target_slot(&u->boot);
    if (slot > 1u) {
        return NRC_OUT_OF_RANGE;
    }
    if (slot == u->boot.running_slot || slot == u->boot.rec.active_slot) {
        return NRC_CONDITIONS;
    }
    drop_download(u);
    if (rid == MF_UDS_RID_ERASE) {
        rc = mf_boot_erase_begin_bytes(&u->boot, &c->boot, slot, erase_bytes);
        if (rc != MF_OK) {
            return rc == MF_BOOT_EFLASH ? NRC_PROGRAMMING_FAILURE : NRC_CONDITIONS;
        }
        u->busy = BUSY_ERASE;
    } else {
        rc = mf_boot_check_begin(&u->boot, &c->boot, slot);
        if (rc != MF_OK) {
            u->tp.tx_buf[0] = 0x71u;
            u->tp.tx_buf[1] = 0x01u;
            u->tp.tx_buf[2] = rq[2];
            u->tp.tx_buf[3] = rq[3];
            u->tp.tx_buf[4] = mf_uds_check_status(rc);
            *len = 5u;
            return 0u;
        }
        u->busy = BUSY_CHECK;
    }
    u->busy_slot = slot;
    u->busy_timer_s = 0.0f;
    *deferred = true;
    return NRC_PENDING;
}

static uint8_t svc_download(mf_uds_t *u, const mf_uds_config_t *c, const uint8_t *rq, uint32_t n, uint32_t *len)
{
    int rc;
    if (u->session != MF_UDS_SESSION_PROGRAMMING) {
        return NRC_SERVICE_NOT_IN_SESSION;
    }
    if (!u->unlocked) {
        return NRC_SECURITY_DENIED;
    }
    if (n < 3u) {
        return NRC_INCORRECT_LENGTH;
    }
    if (rq[1] != 0x00u || rq[2] != 0x44u) {
        return NRC_OUT_OF_RANGE;
    }
    if (n != 11u) {
        return NRC_INCORRECT_LENGTH;
    }
    if (u->dl_active) {
        return NRC_CONDITIONS;
    }
    rc = mf_boot_write_begin(&u->boot, &c->boot, get32(rq + 3), get32(rq + 7));
    if (rc == MF_ERANGE) {
        return NRC_OUT_OF_RANGE;
    }
    if (rc != MF_OK) {
        return NRC_DOWNLOAD_NOT_ACCEPTED;
    }
    u->dl_active = 1u;
    u->dl_have_block = 0u;
    u->dl_counter = 0u;
    u->tp.tx_buf[0] = 0x74u;
    u->tp.tx_buf[1] = 0x20u;
    u->tp.tx_buf[2] = (uint8_t)(MF_UDS_MAX_BLOCK >> 8);
    u->tp.tx_buf[3] = (uint8_t)MF_UDS_MAX_BLOCK;
    *len = 4u;
    return 0u;
}

static uint8_t svc_transfer(mf_uds_t *u, const mf_uds_config_t *c, const uint8_t *rq, uint32_t n, uint32_t *len)
{
    uint8_t counter;
    int rc;
    if (u->session != MF_UDS_SESSION_PROGRAMMING) {
        return NRC_SERVICE_NOT_IN_SESSION;
    }
    if (!u->unlocked) {
        return NRC_SECURITY_DENIED;
    }
    if (!u->dl_active) {
        return NRC_SEQUENCE;
    }
    if (n < 2u || n > MF_UDS_MAX_BLOCK) {
        return NRC_INCORRECT_LENGTH;
    }
    counter = rq[1];
    if (u->dl_have_block && counter == u->dl_counter) {
        /* the tester repeats the last block: its answer was lost; nothing to write */
    } else if (counter == (uint8_t)(u->dl_counter + 1u)) {
        rc = mf_boot_write(&u->boot, &c->boot, rq + 2, n - 2u);
        if (rc == MF_ERANGE) {
            return NRC_TRANSFER_SUSPENDED;
        }
        if (rc != MF_OK) {
            drop_download(u);
            return NRC_PROGRAMMING_FAILURE;
        }
        u->dl_counter = counter;
        u->dl_have_block = 1u;
    } else {
        return NRC_WRONG_BLOCK_COUNTER;
    }
    u->tp.tx_buf[0] = 0x76u;
    u->tp.tx_buf[1] = counter;
    *len = 2u;
    return 0u;
}

static uint8_t svc_exit(mf_uds_t *u, const mf_uds_config_t *c, uint32_t n, uint32_t *len)
{
    int rc;
    if (u->session != MF_UDS_SESSION_PROGRAMMING) {
        return NRC_SERVICE_NOT_IN_SESSION;
    }
    if (n != 1u) {
        return NRC_INCORRECT_LENGTH;
    }
    if (!u->dl_active) {
        return NRC_SEQUENCE;
    }
    rc = mf_boot_write_end(&u->boot, &c->boot);
    if (rc == MF_ESTATE) {
        return NRC_SEQUENCE;        /* not every announced byte arrived */
    }
    u->dl_active = 0u;
    if (rc != MF_OK) {
        return NRC_PROGRAMMING_FAILURE;
    }
    u->tp.tx_buf[0] = 0x77u;
    *len = 1u;
    return 0u;
}

static void process(mf_uds_t *u, const mf_uds_config_t *c, const uint8_t *rq, uint32_t n)
{
    uint8_t sid = rq[0], nrc;
    uint32_t len = 0u;
    bool deferred = false, suppress = false;
    u->counters.requests++;
    if (u->session != MF_UDS_SESSION_DEFAULT) {
        u->s3_timer_s = c->s3_s;
    }
    if (u->busy != BUSY_NONE) {
        negative(u, c, sid, NRC_BUSY_REPEAT);
        return;
    }
    if (n >= 2u && (sid == 0x10u || sid == 0x11u || sid == 0x27u || sid == 0x31u || sid == 0x3Eu)) {
        suppress = (rq[1] & 0x80u) != 0u;
    }
    switch (sid) {
    case 0x10u:
        nrc = svc_session(u, c, rq, n, &len);
        break;
    case 0x11u:
        nrc = svc_reset(u, rq, n, &len);
        break;
    case 0x27u:
        nrc = svc_security(u, c, rq, n, &len);
        break;
    case 0x22u:
        nrc = svc_read(u, c, rq, n, &len);
        break;
    case 0x2Eu:
        nrc = svc_write(u, c, rq, n, &len);
        break;
    case 0x31u:
        nrc = svc_routine(u, c, rq, n, &len, &deferred);
        break;
    case 0x34u:
        nrc = svc_download(u, c, rq, n, &len);
        break;
    case 0x36u:
        nrc = svc_transfer(u, c, rq, n, &len);
        break;
    case 0x37u:
        nrc = svc_exit(u, c, n, &len);
        break;
    case 0x3Eu:
        if (n != 2u) {
            nrc = NRC_INCORRECT_LENGTH;
        } else if ((rq[1] & 0x7Fu) != 0u) {
            nrc = NRC_SUBFUNCTION_NOT_SUPPORTED;
        } else {
            u->tp.tx_buf[0] = 0x7Eu;
            u->tp.tx_buf[1] = 0x00u;
            len = 2u;
            nrc = 0u;
        }
        break;
    default:
        nrc = NRC_SERVICE_NOT_SUPPORTED;
        break;
    }
    if (nrc != 0u) {
        negative(u, c, sid, nrc);   /* also the 0x78 of a deferred routine */
        (void)deferred;
    } else if (!suppress) {
        respond(u, c, len);
    }
}

int mf_uds_on_frame(mf_uds_t *u, const mf_uds_config_t *c, const uint8_t *data, uint32_t len)
{
    int rc;
    if (u == NULL || c == NULL) {
        return MF_ENULL;
    }
    rc = mf_isotp_on_frame(&u->tp, &c->tp, data, len);
    if (rc == MF_ISOTP_RX_DONE) {
        process(u, c, u->tp.rx_buf, u->tp.rx_len);
        return 1;
    }
    return rc;
}

int mf_uds_tx_pop(mf_uds_t *u, const mf_uds_config_t *c, uint8_t frame[64], uint32_t *len)
{
    if (u == NULL || c == NULL) {
        return 0;
    }
    return mf_isotp_tx_pop(&u->tp, &c->tp, frame, len);
}

int mf_uds_reset_pending(const mf_uds_t *u)
{
    if (u == NULL || u->reset_request == 0u || !mf_isotp_tx_idle(&u->tp)) {
        return 0;
    }
    return (int)u->reset_request;
}

static void busy_work(mf_uds_t *u, const mf_uds_config_t *c, float dt_s)
{
    int rc;
    uint16_t rid;
    if (u->busy == BUSY_ERASE) {
        rc = mf_boot_erase_step(&u->boot, &c->boot, c->erase_pages_per_poll);
        rid = MF_UDS_RID_ERASE;
    } else {
        rc = mf_boot_check_step(&u->boot, &c->boot, c->check_bytes_per_poll);
        if (rc == MF_OK) {
            rc = mf_boot_set_pending(&u->boot, &c->boot, u->busy_slot);
        }
        rid = MF_UDS_RID_CHECK;
    }
    if (rc == 1) {
        u->busy_timer_s += dt_s > 0.0f ? dt_s : 0.0f;
        if (u->busy_timer_s >= PENDING_REPEAT_S) {
            u->busy_timer_s = 0.0f;
            negative(u, c, 0x31u, NRC_PENDING);
        }
        return;
    }
    u->busy = BUSY_NONE;
    if (rid == MF_UDS_RID_ERASE && rc != MF_OK) {
        negative(u, c, 0x31u, NRC_PROGRAMMING_FAILURE);
        return;
    }
    routine_answer(u, c, rid, mf_uds_check_status(rc));
}

void mf_uds_poll(mf_uds_t *u, const mf_uds_config_t *c, float dt_s)
{
    float dt;
    if (u == NULL || c == NULL) {
        return;
    }
    dt = dt_s > 0.0f && dt_s < 1.0e6f ? dt_s : 0.0f;   /* NaN, negative: no time */
    mf_isotp_tick(&u->tp, &c->tp, dt);
    if (u->lockout_timer_s > 0.0f) {
        u->lockout_timer_s -= dt;
    }
    if (u->busy != BUSY_NONE) {
        busy_work(u, c, dt);
    } else if (u->session != MF_UDS_SESSION_DEFAULT) {
        u->s3_timer_s -= dt;
        if (u->s3_timer_s <= 0.0f) {
            set_session(u, c, MF_UDS_SESSION_DEFAULT);   /* S3 expired */
        }
    }
}
