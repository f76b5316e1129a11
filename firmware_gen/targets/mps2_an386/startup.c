/* startup.c - reset and fault entry of the mps2-an386 (Cortex-M4F) target:
 * the vector table, FPU on (CPACR), .data copied from flash, .bss cleared,
 * main(), then a semihosting exit with main's result. A fault exits with
 * an error (there is no one to reset the board in an emulator). */
#include <stdint.h>
#include <string.h>

#include "semihost.h"

int main(void);
void mf_reset_handler(void);
void mf_fault_handler(void);

extern uint32_t _estack;
extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss;

typedef void (*mf_vector_fn)(void);

typedef struct {
    uint32_t *initial_sp;
    mf_vector_fn handlers[15]; /* Reset .. SysTick */
} mf_vector_table_t;

__attribute__((section(".vectors"), used)) static const mf_vector_table_t mf_vectors = {
    &_estack,
    {mf_reset_handler, mf_fault_handler, mf_fault_handler, mf_fault_handler, mf_fault_handler,
     mf_fault_handler, 0, 0, 0, 0, mf_fault_handler, mf_fault_handler, 0, mf_fault_handler,
     mf_fault_handler}};

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)

void mf_reset_handler(void)
{
    SCB_CPACR |= (0xFu << 20); /* CP10, CP11: full access to the FPU */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    memcpy(&_sdata, &_sidata, (size_t)((uintptr_t)&_edata - (uintptr_t)&_sdata));
    memset(&_sbss, 0, (size_t)((uintptr_t)&_ebss - (uintptr_t)&_sbss));
    sh_exit(main() == 0 ? SH_EXIT_OK : SH_EXIT_ERROR);
}

void mf_fault_handler(void)
{
    sh_puts("mps2-an386: fault exception\n");
    sh_exit(SH_EXIT_ERROR);
}
