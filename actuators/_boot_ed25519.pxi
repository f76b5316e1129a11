# Ed25519 section of actuators/_boot.pyx: binding of mf_sha512.h and
# mf_ed25519.h (RFC 8032 verification, FIPS 180-4 SHA-512). Thin: every
# computation is the C's.

from libc.stdint cimport uint8_t

cdef extern from "mf_sha512.h":
    ctypedef struct mf_sha512_t:
        pass
    void mf_sha512_init(mf_sha512_t *s) nogil
    void mf_sha512_update(mf_sha512_t *s, const uint8_t *data, size_t length) nogil
    void mf_sha512_final(mf_sha512_t *s, uint8_t *out) nogil
    void mf_sha512(const uint8_t *data, size_t length, uint8_t *out) nogil

cdef extern from "mf_ed25519.h":
    int MF_ED25519_OK
    int MF_ED25519_ENULL
    int MF_ED25519_ESTATE
    int MF_ED25519_ESCALAR
    int MF_ED25519_EPUB
    int MF_ED25519_ER
    int MF_ED25519_EBADSIG
    ctypedef struct mf_ed25519_verify_t:
        pass
    int mf_ed25519_verify_begin(mf_ed25519_verify_t *v, const uint8_t *sig, const uint8_t *pub) nogil
    void mf_ed25519_verify_update(mf_ed25519_verify_t *v, const uint8_t *msg, size_t length) nogil
    int mf_ed25519_verify_end(mf_ed25519_verify_t *v) nogil
    int mf_ed25519_verify(const uint8_t *sig, const uint8_t *pub,
                          const uint8_t *msg, size_t length) nogil


ED25519_ERRORS = {
    MF_ED25519_ENULL: "null pointer",
    MF_ED25519_ESTATE: "verification not begun",
    MF_ED25519_ESCALAR: "non-canonical S (S >= L)",
    MF_ED25519_EPUB: "invalid or small-order public key",
    MF_ED25519_ER: "invalid or small-order R",
    MF_ED25519_EBADSIG: "signature does not match",
}


cdef class Sha512:
    """Streaming SHA-512 (mf_sha512_t): update(data) any number of times, then digest()."""
    cdef mf_sha512_t _s
    cdef bint _done

    def __cinit__(self):
        mf_sha512_init(&self._s)
        self._done = False

    def update(self, data) -> None:
        """Absorb a bytes-like object."""
        if self._done:
            raise ValueError("Sha512: digest() already called")
        cdef const uint8_t[::1] view = memoryview(data).cast("B")
        cdef size_t n = <size_t>view.shape[0]
        if n > 0:
            with nogil:
                mf_sha512_update(&self._s, &view[0], n)

    def digest(self) -> bytes:
        """The 64-byte digest; the object cannot be updated afterwards."""
        if self._done:
            raise ValueError("Sha512: digest() already called")
        cdef uint8_t out[64]
        mf_sha512_final(&self._s, out)
        self._done = True
        return bytes(out[:64])


cdef class Ed25519Verifier:
    """Streaming verification (mf_ed25519_verify_t): Ed25519Verifier(sig, pub),
    update(msg_part) any number of times, end() -> 0 valid or a negative code."""
    cdef mf_ed25519_verify_t _v
    cdef readonly int begin_code

    def __init__(self, sig, pub):
        cdef const uint8_t[::1] s = memoryview(sig).cast("B")
        cdef const uint8_t[::1] a = memoryview(pub).cast("B")
        if s.shape[0] != 64:
            raise ValueError(f"sig must be 64 bytes, got {s.shape[0]}")
        if a.shape[0] != 32:
            raise ValueError(f"pub must be 32 bytes, got {a.shape[0]}")
        with nogil:
            self.begin_code = mf_ed25519_verify_begin(&self._v, &s[0], &a[0])

    def update(self, msg) -> None:
        """Absorb the next part of the message (bytes-like)."""
        cdef const uint8_t[::1] m = memoryview(msg).cast("B")
        cdef size_t n = <size_t>m.shape[0]
        if n > 0:
            with nogil:
                mf_ed25519_verify_update(&self._v, &m[0], n)

    def end(self) -> int:
        """0 when the signature is valid for everything absorbed, else negative."""
        cdef int rc
        with nogil:
            rc = mf_ed25519_verify_end(&self._v)
        return rc


def sha512(data) -> bytes:
    """SHA-512 digest (64 bytes) of a bytes-like object, computed by mf_sha512.c."""
    cdef const uint8_t[::1] view = memoryview(data).cast("B")
    cdef uint8_t out[64]
    cdef size_t n = <size_t>view.shape[0]
    cdef const uint8_t *p = &view[0] if n > 0 else NULL
    with nogil:
        mf_sha512(p, n, out)
    return bytes(out[:64])


def ed25519_verify_code(sig, pub, msg) -> int:
    """mf_ed25519_verify's return code: 0 valid, negative refused (see ED25519_ERRORS).

    sig: 64 bytes (R || S), pub: 32 bytes, msg: any bytes-like. ValueError if
    sig or pub has the wrong length."""
    cdef const uint8_t[::1] s = memoryview(sig).cast("B")
    cdef const uint8_t[::1] a = memoryview(pub).cast("B")
    cdef const uint8_t[::1] m = memoryview(msg).cast("B")
    if s.shape[0] != 64:
        raise ValueError(f"sig must be 64 bytes, got {s.shape[0]}")
    if a.shape[0] != 32:
        raise ValueError(f"pub must be 32 bytes, got {a.shape[0]}")
    cdef size_t n = <size_t>m.shape[0]
    cdef const uint8_t *mp = &m[0] if n > 0 else NULL
    cdef int rc
    with nogil:
        rc = mf_ed25519_verify(&s[0], &a[0], mp, n)
    return rc


def ed25519_verify(sig, pub, msg) -> bool:
    """True when sig (64 bytes) is a valid Ed25519 (RFC 8032) signature of msg
    under the public key pub (32 bytes), checked by mf_ed25519.c."""
    return ed25519_verify_code(sig, pub, msg) == MF_ED25519_OK


__all__ += ["ED25519_ERRORS", "Ed25519Verifier", "Sha512", "ed25519_verify", "ed25519_verify_code", "sha512"]
