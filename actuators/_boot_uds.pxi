# UDS/ISO-TP/slots section of actuators/_boot.pyx: binding of mf_ramflash.h
# (flash in a buffer: the simulator's flash HAL), mf_boot.h (A/B slots, boot
# record) and mf_uds.h (the UDS server over ISO-TP). Thin: every decision is
# the C's. actuators/sim_flash.py and actuators/sim_node.py build on it.

from cpython.mem cimport PyMem_Calloc, PyMem_Free
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy

cdef extern from "mf_flash.h":
    ctypedef struct mf_flash_t:
        void *ctx
        uint32_t page_bytes
        uint32_t prog_bytes

cdef extern from "mf_ramflash.h":
    ctypedef struct mf_ramflash_t:
        uint8_t *mem
        uint32_t base
        uint32_t size
        uint32_t page_bytes
        uint32_t prog_bytes
        int64_t budget
        uint8_t dead
        uint64_t erased
        uint64_t programmed
    int mf_ramflash_init(mf_ramflash_t *f, uint8_t *mem, uint32_t base, uint32_t size,
                         uint32_t page_bytes, uint32_t prog_bytes) nogil
    int mf_ramflash_read(void *ctx, uint32_t addr, uint8_t *buf, uint32_t length) nogil
    int mf_ramflash_erase_page(void *ctx, uint32_t addr) nogil
    int mf_ramflash_program(void *ctx, uint32_t addr, const uint8_t *buf, uint32_t length) nogil
    mf_flash_t mf_ramflash_interface(mf_ramflash_t *f) nogil
    void mf_ramflash_power_on(mf_ramflash_t *f) nogil

cdef extern from "mf_isotp.h":
    ctypedef struct mf_isotp_config_t:
        uint8_t tx_dl
        uint8_t block_size
        uint8_t st_min
        uint8_t padding
        float n_bs_s
        float n_cr_s
    ctypedef struct mf_isotp_counters_t:
        uint32_t rx_msgs
        uint32_t tx_msgs
        uint32_t rx_aborts
        uint32_t tx_aborts
        uint32_t bad_frames
    ctypedef struct mf_isotp_t:
        mf_isotp_counters_t counters

cdef extern from "mf_boot.h":
    enum:
        MF_BOOT_NO_SLOT
    ctypedef struct mf_boot_config_t:
        mf_flash_t flash
        uint32_t slot_addr[2]
        uint32_t slot_bytes
        uint32_t record_addr[2]
        uint32_t board_id
        uint8_t pubkey[32]
        uint8_t require_signature
    ctypedef struct mf_boot_record_t:
        uint32_t seq
        uint8_t active_slot
        uint8_t pending_slot
        uint8_t trial
        uint32_t security_counter
        uint8_t serial[16]
    ctypedef struct mf_boot_image_info_t:
        uint8_t valid
        uint32_t fw_version
        uint32_t security_counter
        uint32_t board_id
        uint32_t payload_bytes
        char version_text[32]
    ctypedef struct mf_boot_t:
        mf_boot_record_t rec
        signed char rec_copy
        uint8_t running_slot
        uint8_t trial_boot
        mf_boot_image_info_t running
    int mf_boot_confirm(mf_boot_t *b, const mf_boot_config_t *c) nogil
    uint8_t mf_boot_target_slot(const mf_boot_t *b) nogil
    int mf_boot_image_info(const mf_boot_config_t *c, uint8_t slot, mf_boot_image_info_t *info) nogil

cdef extern from "mf_uds.h":
    enum:
        MF_UDS_MAX_BLOCK
    ctypedef struct mf_uds_config_t:
        mf_isotp_config_t tp
        mf_boot_config_t boot
        uint32_t security_secret
        float s3_s
        float lockout_s
        uint8_t max_attempts
        uint16_t p2_ms
        uint16_t p2_star_10ms
        uint32_t erase_pages_per_poll
        uint32_t check_bytes_per_poll
    ctypedef struct mf_uds_counters_t:
        uint32_t requests
        uint32_t negative
        uint32_t resets
    ctypedef struct mf_uds_t:
        mf_isotp_t tp
        mf_boot_t boot
        uint8_t session
        uint8_t unlocked
        uint8_t busy
        mf_uds_counters_t counters
    int mf_uds_boot(mf_uds_t *u, const mf_uds_config_t *c) nogil
    int mf_uds_on_frame(mf_uds_t *u, const mf_uds_config_t *c, const uint8_t *data, uint32_t length) nogil
    int mf_uds_tx_pop(mf_uds_t *u, const mf_uds_config_t *c, uint8_t *frame, uint32_t *length) nogil
    void mf_uds_poll(mf_uds_t *u, const mf_uds_config_t *c, float dt_s) nogil
    int mf_uds_reset_pending(const mf_uds_t *u) nogil
    void mf_uds_add_entropy(mf_uds_t *u, uint32_t noise) nogil
    uint32_t mf_uds_key(uint32_t seed, uint32_t secret) nogil
    uint8_t mf_uds_check_status(int rc) nogil


UDS_MAX_BLOCK = MF_UDS_MAX_BLOCK
NO_SLOT = MF_BOOT_NO_SLOT


def uds_key(uint32_t seed, uint32_t secret) -> int:
    """SecurityAccess key of a seed (mf_uds_key, formula in mf_uds.h)."""
    return mf_uds_key(seed, secret)


cdef class RamFlash:
    """NOR-flash semantics (mf_ramflash) over a writable buffer that holds
    flash bytes [base, base + len(buffer)): erase to 0xFF per page, program
    aligned units onto erased bytes only. ``power_cut(n)`` stops the flash
    after n more erased/programmed bytes (then every call fails until
    ``power_on()``). The buffer must outlive this object."""
    cdef mf_ramflash_t _f
    cdef object _buf          # keeps the exporter alive
    cdef uint8_t[::1] _view

    def __init__(self, buffer, uint32_t base, uint32_t page_bytes, uint32_t prog_bytes=8):
        self._buf = buffer
        self._view = memoryview(buffer).cast("B")
        if self._view.shape[0] == 0:
            raise ValueError("RamFlash: empty buffer")
        rc = mf_ramflash_init(&self._f, &self._view[0], base, <uint32_t>self._view.shape[0], page_bytes,
                              prog_bytes)
        if rc != 0:
            raise ValueError(f"RamFlash: size {self._view.shape[0]}, base 0x{base:08x}, page_bytes "
                             f"{page_bytes}, prog_bytes {prog_bytes}: the size and base must be multiples "
                             "of page_bytes (a power of two), prog_bytes 1, 2, 4 or 8")

    def read(self, uint32_t addr, uint32_t n) -> bytes:
        """n bytes at addr."""
        out = bytearray(n)
        cdef uint8_t[::1] o = out
        if n == 0:
            return b""
        if mf_ramflash_read(&self._f, addr, &o[0], n) != 0:
            raise ValueError(f"RamFlash.read: [0x{addr:08x}, +{n}) outside the flash or power cut")
        return bytes(out)

    def erase_page(self, uint32_t addr) -> int:
        """Erase the page at addr; 0 or a negative code (outside, power cut)."""
        return mf_ramflash_erase_page(&self._f, addr)

    def program(self, uint32_t addr, data) -> int:
        """Program data at addr (aligned, erased); 0 or a negative code."""
        cdef const uint8_t[::1] d = memoryview(data).cast("B")
        if d.shape[0] == 0:
            return 0
        return mf_ramflash_program(&self._f, addr, &d[0], <uint32_t>d.shape[0])

    def power_cut(self, int64_t after_bytes) -> None:
        """Inject a power cut after this many more erased/programmed bytes."""
        self._f.budget = after_bytes if after_bytes >= 0 else -1

    def power_on(self) -> None:
        """End an injected power cut."""
        mf_ramflash_power_on(&self._f)

    @property
    def dead(self) -> bool:
        """True after an injected power cut hit."""
        return bool(self._f.dead)

    @property
    def erased_bytes(self) -> int:
        return self._f.erased

    @property
    def programmed_bytes(self) -> int:
        return self._f.programmed


cdef class UdsServer:
    """One node's bootloader: mf_uds_t (UDS over ISO-TP, with its mf_boot_t)
    on a RamFlash. Keyword arguments are the config fields of mf_uds.h,
    mf_isotp.h and mf_boot.h (slot_addr and record_addr are pairs, pubkey
    32 bytes). ``boot()`` is a node reset."""
    cdef mf_uds_t *_u
    cdef mf_uds_config_t _c
    cdef RamFlash _flash

    def __cinit__(self, *args, **kwargs):
        self._u = <mf_uds_t *>PyMem_Calloc(1, sizeof(mf_uds_t))
        if self._u == NULL:
            raise MemoryError()

    def __dealloc__(self):
        PyMem_Free(self._u)

    def __init__(self, RamFlash flash not None, *, slot_addr, uint32_t slot_bytes, record_addr,
                 uint32_t board_id, pubkey, bint require_signature=True, uint32_t security_secret=0,
                 uint8_t tx_dl=8, uint8_t block_size=0, uint8_t st_min=0, uint8_t padding=0xCC,
                 float n_bs_s=1.0, float n_cr_s=1.0, float s3_s=5.0, float lockout_s=10.0,
                 uint8_t max_attempts=3, uint16_t p2_ms=50, uint16_t p2_star_10ms=500,
                 uint32_t erase_pages_per_poll=8, uint32_t check_bytes_per_poll=16384):
        self._flash = flash
        pub = bytes(pubkey)
        if len(pub) != 32:
            raise ValueError(f"UdsServer: pubkey must be 32 bytes (raw Ed25519), got {len(pub)}")
        self._c.boot.flash = mf_ramflash_interface(&flash._f)
        self._c.boot.slot_addr[0], self._c.boot.slot_addr[1] = slot_addr
        self._c.boot.slot_bytes = slot_bytes
        self._c.boot.record_addr[0], self._c.boot.record_addr[1] = record_addr
        self._c.boot.board_id = board_id
        memcpy(self._c.boot.pubkey, <const char *>pub, 32)
        self._c.boot.require_signature = require_signature
        self._c.security_secret = security_secret
        self._c.tp.tx_dl = tx_dl
        self._c.tp.block_size = block_size
        self._c.tp.st_min = st_min
        self._c.tp.padding = padding
        self._c.tp.n_bs_s = n_bs_s
        self._c.tp.n_cr_s = n_cr_s
        self._c.s3_s = s3_s
        self._c.lockout_s = lockout_s
        self._c.max_attempts = max_attempts
        self._c.p2_ms = p2_ms
        self._c.p2_star_10ms = p2_star_10ms
        self._c.erase_pages_per_poll = erase_pages_per_poll
        self._c.check_bytes_per_poll = check_bytes_per_poll

    def boot(self) -> int:
        """Node reset (mf_uds_boot): the slot running (0 A, 1 B) or -4 (MF_ESTATE: no
        bootable image, the server still answers). ValueError on a bad config."""
        rc = mf_uds_boot(self._u, &self._c)
        if rc in (-1, -2):
            raise ValueError(
                "UdsServer config refused (mf_uds_boot -> %d): tx_dl 8 or a CAN FD length 12..64, "
                "st_min 0-127 or 0xF1-0xF9, n_bs_s/n_cr_s/s3_s > 0, lockout_s >= 0, max_attempts >= 1, "
                "erase_pages_per_poll/check_bytes_per_poll >= 1, slots and record pages page-aligned, "
                "non-overlapping, slot_bytes a multiple of the page size" % rc)
        return rc

    def on_frame(self, data) -> int:
        """A frame of the request ID: 1 when it completed a request, else 0 or negative."""
        cdef const uint8_t[::1] d = memoryview(data).cast("B")
        if d.shape[0] == 0 or d.shape[0] > 64:
            return -3
        return mf_uds_on_frame(self._u, &self._c, &d[0], <uint32_t>d.shape[0])

    def tx_pop(self):
        """The next frame to send on the response ID (bytes), or None."""
        cdef uint8_t frame[64]
        cdef uint32_t n = 0
        if mf_uds_tx_pop(self._u, &self._c, frame, &n) != 1:
            return None
        return frame[:n]

    def poll(self, float dt_s) -> None:
        """Timers and a slice of a pending erase/check; dt_s in s."""
        with nogil:
            mf_uds_poll(self._u, &self._c, dt_s)

    def reset_pending(self) -> int:
        """ECUReset type (1 hard, 3 soft) answered and sent, else 0."""
        return mf_uds_reset_pending(self._u)

    def add_entropy(self, uint32_t noise) -> None:
        mf_uds_add_entropy(self._u, noise)

    def confirm(self) -> int:
        """The running image confirms itself (mf_boot_confirm): 0 or a negative code."""
        return mf_boot_confirm(&self._u.boot, &self._c.boot)

    @property
    def running_slot(self) -> int:
        """Slot running: 0 A, 1 B, 255 none."""
        return self._u.boot.running_slot

    @property
    def trial_boot(self) -> bool:
        """True while the running image is on its trial boot (not confirmed)."""
        return bool(self._u.boot.trial_boot)

    @property
    def target_slot(self) -> int:
        return mf_boot_target_slot(&self._u.boot)

    @property
    def running(self) -> dict:
        """Header of the running image: valid, fw_version, security_counter, board_id, version_text."""
        i = self._u.boot.running
        return {"valid": bool(i.valid), "fw_version": i.fw_version, "security_counter": i.security_counter,
                "board_id": i.board_id, "payload_bytes": i.payload_bytes,
                "version_text": bytes(i.version_text[:32]).split(b"\0")[0].decode("ascii", "replace")}

    @property
    def record(self) -> dict:
        """The boot record: seq, active_slot, pending_slot, trial, security_counter, serial, copy."""
        r = self._u.boot.rec
        return {"seq": r.seq, "active_slot": r.active_slot, "pending_slot": r.pending_slot,
                "trial": r.trial, "security_counter": r.security_counter,
                "serial": bytes(r.serial[:16]), "copy": self._u.boot.rec_copy}

    def image_info(self, uint8_t slot) -> dict:
        """Header of the image in a slot (valid False when none or damaged)."""
        cdef mf_boot_image_info_t i
        mf_boot_image_info(&self._c.boot, slot, &i)
        return {"valid": bool(i.valid), "fw_version": i.fw_version, "security_counter": i.security_counter,
                "board_id": i.board_id, "payload_bytes": i.payload_bytes}

    @property
    def session(self) -> int:
        """1 default, 2 programming, 3 extended."""
        return self._u.session

    @property
    def unlocked(self) -> bool:
        return bool(self._u.unlocked)

    @property
    def busy(self) -> bool:
        """True while an erase or check runs (its answer pending)."""
        return self._u.busy != 0

    @property
    def counters(self) -> dict:
        """UDS and ISO-TP counters."""
        t = self._u.tp.counters
        u = self._u.counters
        return {"requests": u.requests, "negative": u.negative, "resets": u.resets,
                "rx_msgs": t.rx_msgs, "tx_msgs": t.tx_msgs, "rx_aborts": t.rx_aborts,
                "tx_aborts": t.tx_aborts, "bad_frames": t.bad_frames}


__all__ += ["NO_SLOT", "RamFlash", "UDS_MAX_BLOCK", "UdsServer", "uds_key"]
