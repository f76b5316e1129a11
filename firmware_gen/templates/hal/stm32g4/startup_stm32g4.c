/* startup_stm32g4.c - vector table and reset for the myofoc application.
 *
 * The application is linked at its slot's start + 512 (the image header sits
 * in front, docs/spec/image_format.md); the bootloader jumps to the reset
 * vector of this table. Reset_Handler enables the FPU (CPACR) before any
 * float instruction, copies .data, clears .bss, points VTOR at this table and
 * calls main. Every interrupt the firmware does not use goes to
 * Default_Handler, which turns the power stage off and waits.
 */
#include <stdint.h>

#include "stm32g4_regs.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
int main(void);

void Reset_Handler(void);
void Default_Handler(void);
void SysTick_Handler(void);
void ADC1_2_IRQHandler(void);

typedef void (*mf_vector_t)(void);

typedef struct {
    uint32_t *initial_sp;
    mf_vector_t vectors[15u + IRQ_COUNT];
} mf_vector_table_t;

#define D Default_Handler
__attribute__((section(".isr_vector"), used))
const mf_vector_table_t mf_vector_table = {
    &_estack,
    {
        Reset_Handler, D /* NMI */, D /* HardFault */, D /* MemManage */, D /* BusFault */,
        D /* UsageFault */, 0, 0, 0, 0, D /* SVCall */, D /* DebugMon */, 0, D /* PendSV */,
        SysTick_Handler,
        /* IRQ 0.. */
@@IRQ_VECTORS@@
    },
};
#undef D

void Default_Handler(void)
{
    MF_REG(TIM1_BASE, TIM_BDTR) &= ~TIM_BDTR_MOE;   /* power stage off */
    for (;;) {
    }
}

void Reset_Handler(void)
{
    SCB_CPACR |= 0xFu << 20;                  /* CP10, CP11 full access: the FPU */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    uint32_t *src = &_sidata;
    for (uint32_t *dst = &_sdata; dst < &_edata; dst++) {
        *dst = *src++;
    }
    for (uint32_t *dst = &_sbss; dst < &_ebss; dst++) {
        *dst = 0u;
    }
    SCB_VTOR = (uint32_t)(uintptr_t)&mf_vector_table;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    (void)main();
    for (;;) {
    }
}
