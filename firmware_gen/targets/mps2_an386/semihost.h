/* semihost.h - ARM semihosting (bkpt 0xAB) for the mps2-an386 emulator
 * target: files on the host, console output and exit. QEMU serves the calls
 * with -semihosting-config enable=on,target=native; paths are relative to
 * QEMU's working directory. */
#ifndef MF_SEMIHOST_H
#define MF_SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

#define SH_SYS_OPEN 0x01u
#define SH_SYS_CLOSE 0x02u
#define SH_SYS_WRITE0 0x04u
#define SH_SYS_WRITE 0x05u
#define SH_SYS_READ 0x06u
#define SH_SYS_EXIT 0x18u

#define SH_MODE_RB 1u   /* fopen "rb" */
#define SH_MODE_WB 5u   /* fopen "wb" */

#define SH_EXIT_OK 0x20026u      /* ADP_Stopped_ApplicationExit: QEMU exits 0 */
#define SH_EXIT_ERROR 0x20023u   /* ADP_Stopped_RunTimeErrorUnknown: QEMU exits 1 */

/* A file handle (>= 0) or -1. */
int32_t sh_open(const char *path, uint32_t mode);
int32_t sh_close(int32_t fd);
/* Bytes read (0 at the end of the file), or -1. */
int32_t sh_read(int32_t fd, void *buf, uint32_t len);
/* 0 when all len bytes were written, else -1. */
int32_t sh_write(int32_t fd, const void *buf, uint32_t len);
/* A NUL-terminated string to the host console. */
void sh_puts(const char *s);
/* Stop the emulator: SH_EXIT_OK or SH_EXIT_ERROR. */
void sh_exit(uint32_t reason) __attribute__((noreturn));

#endif /* MF_SEMIHOST_H */
