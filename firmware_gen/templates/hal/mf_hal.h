/* mf_hal.h - the hardware layer of the myofoc firmware.
 *
 * The control core (mf_app, mf_ctrl, ...) never touches registers; main.c
 * glues it to the peripherals through this interface, which one directory
 * per MCU family implements (hal/stm32g4/). Units: SI; times in ms or us as
 * named. Values that come from the board file are in config.h.
 *
 * The current loop: the HAL starts the PWM timer, which triggers the ADC
 * conversions of the phase currents and the bus voltage once per PWM period;
 * their end-of-conversion interrupt is THE current-loop interrupt. It calls
 * mf_hal_current_isr_hook() (defined by main.c), which reads the samples
 * with mf_hal_sense_read(), runs mf_app_isr() and writes the duties with
 * mf_hal_pwm_write(). Everything else runs in the main loop with that
 * interrupt masked (mf_hal_isr_mask / mf_hal_isr_unmask), as mf_app.h asks.
 */
#ifndef MF_HAL_H
#define MF_HAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mf_app.h"

typedef struct {
    uint32_t id;          /* 11-bit CAN ID */
    uint8_t len;          /* data bytes, 0..64 */
    bool fd;              /* CAN FD frame */
    uint8_t data[64];
} mf_hal_can_frame_t;

/* ---- bring-up (main calls these once, in this order) ---- */
void mf_hal_clock_init(void);      /* SYSCLK = config.h MF_SYSCLK_HZ (PLL from HSI16 or HSE), flash wait states */
void mf_hal_gpio_init(void);       /* pins of the board's peripherals (MF_PIN_* in config.h) */
void mf_hal_pwm_init(void);        /* TIM1 centre-aligned, dead time, outputs off, TRGO2 = ADC trigger */
void mf_hal_adc_init(void);        /* ADC1/ADC2 injected sequences on TIM1_TRGO2, JEOS interrupt */
void mf_hal_encoder_init(void);    /* SPI absolute encoder or TIM2 quadrature (MF_ENC_*) */
int mf_hal_can_init(void);         /* FDCAN1 classic or FD (MF_CAN_*); 0 or negative mf_err */
void mf_hal_systick_init(void);    /* 1 kHz tick for mf_hal_time_ms */
void mf_hal_start(void);           /* start the timer: the current-loop interrupt begins */

/* ---- current loop (called from the ISR hook) ---- */
void mf_hal_sense_read(mf_ctrl_sense_t *in);      /* ADC counts, encoder count, temperatures */
void mf_hal_pwm_write(const mf_ctrl_pwm_t *pwm);  /* duties [0, 1] -> compare registers, MOE */
uint32_t mf_hal_encoder_read(void);               /* count in [0, MF_ENC_COUNTS_PER_REV) */
/* Defined by the application (main.c): one call per PWM period. */
void mf_hal_current_isr_hook(void);
void mf_hal_isr_mask(void);        /* mask the current-loop interrupt */
void mf_hal_isr_unmask(void);

/* ---- CAN ---- */
bool mf_hal_can_recv(mf_hal_can_frame_t *f);      /* false when the receive FIFO is empty */
int mf_hal_can_send(const mf_app_frame_t *f);     /* 0; MF_ESTATE when the Tx FIFO is full */

/* ---- flash (the parameter pages) ---- */
int mf_hal_flash_erase(uint32_t addr, uint32_t len);                      /* whole pages; 0 or negative mf_err */
int mf_hal_flash_write(uint32_t addr, const uint8_t *data, uint32_t len); /* 0 or negative mf_err; addr 8-byte aligned */

/* ---- time ---- */
uint32_t mf_hal_time_ms(void);     /* ms since mf_hal_systick_init, wrapping */

#endif /* MF_HAL_H */
