/* semihost.c - ARM semihosting calls (see semihost.h). */
#include "semihost.h"

#include <string.h>

static uint32_t sh_call(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

int32_t sh_open(const char *path, uint32_t mode)
{
    uint32_t args[3];
    args[0] = (uint32_t)(uintptr_t)path;
    args[1] = mode;
    args[2] = (uint32_t)strlen(path);
    return (int32_t)sh_call(SH_SYS_OPEN, args);
}

int32_t sh_close(int32_t fd)
{
    uint32_t args[1];
    args[0] = (uint32_t)fd;
    return (int32_t)sh_call(SH_SYS_CLOSE, args);
}

int32_t sh_read(int32_t fd, void *buf, uint32_t len)
{
    uint32_t args[3];
    uint32_t left;
    args[0] = (uint32_t)fd;
    args[1] = (uint32_t)(uintptr_t)buf;
    args[2] = len;
    left = sh_call(SH_SYS_READ, args); /* bytes NOT read */
    if (left > len) {
        return -1;
    }
    return (int32_t)(len - left);
}

int32_t sh_write(int32_t fd, const void *buf, uint32_t len)
{
    uint32_t args[3];
    args[0] = (uint32_t)fd;
    args[1] = (uint32_t)(uintptr_t)buf;
    args[2] = len;
    return (sh_call(SH_SYS_WRITE, args) == 0u) ? 0 : -1; /* bytes NOT written */
}

void sh_puts(const char *s)
{
    (void)sh_call(SH_SYS_WRITE0, s);
}

void sh_exit(uint32_t reason)
{
    for (;;) {
        /* on AArch32 the reason is passed in r1 itself, not through a block */
        (void)sh_call(SH_SYS_EXIT, (const void *)(uintptr_t)reason);
    }
}
