/* hal_stm32g4.c - the mf_hal.h interface on the STM32G4, register level.
 *
 * Written from RM0440 (STM32G4 reference manual); registers in
 * stm32g4_regs.h; every board value comes from config.h. Default pinout
 * (MF_PIN_* below, override in config.h to match the schematic):
 *   TIM1 CH1/2/3 PA8/PA9/PA10, CH1N/2N/3N PB13/PB14/PB15 (AF6)
 *   ADC1 IN3 (PA2) phase a, IN4 (PA3) bus voltage; ADC2 IN3 (PA6) phase b,
 *   IN4 (PA7) phase c (two-shunt boards: unused)
 *   SPI1 encoder SCK/MISO/MOSI PB3/PB4/PB5 (AF5), chip select PA15
 *   TIM2 quadrature encoder A/B PA0/PA1 (AF1)
 *   FDCAN1 RX/TX PA11/PA12 (AF9)
 * NOT YET RUN ON SILICON: this file compiles and links for the Cortex-M4F
 * and its numbers (PLL, timer period, dead time, FDCAN bit timing) are
 * checked by tests, but the peripheral sequences have not been exercised on
 * a real STM32G4 (docs/firmware.md).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "mf_err.h"
#include "mf_hal.h"
#include "stm32g4_regs.h"

/* ---- pins (port base, pin) ---- */
#ifndef MF_PIN_PWM_PORT_H
#define MF_PIN_PWM_PORT_H GPIOA_BASE   /* PA8, PA9, PA10 */
#define MF_PIN_PWM_H0 8u
#define MF_PIN_PWM_PORT_L GPIOB_BASE   /* PB13, PB14, PB15 */
#define MF_PIN_PWM_L0 13u
#define MF_PIN_PWM_AF 6u
#endif
#ifndef MF_ADC1_CH_I_A
#define MF_ADC1_CH_I_A 3u              /* PA2 */
#define MF_ADC1_CH_VBUS 4u             /* PA3 */
#define MF_ADC2_CH_I_B 3u              /* PA6 */
#define MF_ADC2_CH_I_C 4u              /* PA7 */
#endif
#ifndef MF_ADC_SMP
#define MF_ADC_SMP 2u                  /* 12.5 ADC clock cycles sampling */
#endif
#ifndef MF_SPI_BR
#define MF_SPI_BR 4u                   /* fPCLK2 / 32 = 5.3 MHz at 170 MHz */
#endif

static volatile uint32_t s_ms;         /* SysTick count */

/* ---------------------------------------------------------------- helpers */
static void busy_wait(uint32_t loops)
{
    volatile uint32_t n = loops;
    while (n > 0u) {
        n--;
    }
}

static void gpio_mode(uint32_t port, uint32_t pin, uint32_t mode)
{
    uint32_t m = MF_REG(port, GPIO_MODER);
    m &= ~(3u << (2u * pin));
    m |= (mode & 3u) << (2u * pin);
    MF_REG(port, GPIO_MODER) = m;
}

static void gpio_af(uint32_t port, uint32_t pin, uint32_t af)
{
    uint32_t off = pin < 8u ? GPIO_AFRL : GPIO_AFRH;
    uint32_t sh = 4u * (pin & 7u);
    uint32_t r = MF_REG(port, off);
    r &= ~(0xFu << sh);
    r |= (af & 0xFu) << sh;
    MF_REG(port, off) = r;
    MF_REG(port, GPIO_OSPEEDR) |= 3u << (2u * pin);  /* very high speed */
    gpio_mode(port, pin, 2u);
}

static void nvic_enable(uint32_t irq, uint8_t prio)
{
    NVIC_IPR_BYTE(irq) = prio;
    NVIC_ISER(irq >> 5) = 1u << (irq & 31u);
}

void mf_hal_isr_mask(void)
{
    NVIC_ICER(IRQ_ADC1_2 >> 5) = 1u << (IRQ_ADC1_2 & 31u);
    __asm__ volatile("dsb\n\tisb" ::: "memory");
}

void mf_hal_isr_unmask(void)
{
    __asm__ volatile("" ::: "memory");
    NVIC_ISER(IRQ_ADC1_2 >> 5) = 1u << (IRQ_ADC1_2 & 31u);
}

/* ------------------------------------------------------------------ clock */
void mf_hal_clock_init(void)
{
    MF_REG(RCC_BASE, RCC_APB1ENR1) |= RCC_APB1ENR1_PWREN;
    MF_REG(RCC_BASE, RCC_APB2ENR) |= RCC_APB2ENR_SYSCFGEN;
#if MF_CLOCK_BOOST
    MF_REG(PWR_BASE, PWR_CR5) &= ~PWR_CR5_R1MODE;   /* range 1 boost: > 150 MHz */
#endif
    /* wait states first (RM0440 5.3.3: raise them before the clock) */
    MF_REG(FLASH_R_BASE, FLASH_ACR) = MF_FLASH_LATENCY | FLASH_ACR_PRFTEN | FLASH_ACR_ICEN
                                      | FLASH_ACR_DCEN;
    while ((MF_REG(FLASH_R_BASE, FLASH_ACR) & 0xFu) != MF_FLASH_LATENCY) {
    }
#if MF_PLL_SRC_HSE
    MF_REG(RCC_BASE, RCC_CR) |= RCC_CR_HSEON;
    while ((MF_REG(RCC_BASE, RCC_CR) & RCC_CR_HSERDY) == 0u) {
    }
    uint32_t src = RCC_PLLCFGR_SRC_HSE;
#else
    MF_REG(RCC_BASE, RCC_CR) |= RCC_CR_HSION;
    while ((MF_REG(RCC_BASE, RCC_CR) & RCC_CR_HSIRDY) == 0u) {
    }
    uint32_t src = RCC_PLLCFGR_SRC_HSI;
#endif
    MF_REG(RCC_BASE, RCC_CR) &= ~RCC_CR_PLLON;
    while ((MF_REG(RCC_BASE, RCC_CR) & RCC_CR_PLLRDY) != 0u) {
    }
    MF_REG(RCC_BASE, RCC_PLLCFGR) = src | ((MF_PLL_M - 1u) << RCC_PLLCFGR_M_SHIFT)
                                    | (MF_PLL_N << RCC_PLLCFGR_N_SHIFT) | RCC_PLLCFGR_REN
                                    | ((MF_PLL_R / 2u - 1u) << RCC_PLLCFGR_R_SHIFT);
    MF_REG(RCC_BASE, RCC_CR) |= RCC_CR_PLLON;
    while ((MF_REG(RCC_BASE, RCC_CR) & RCC_CR_PLLRDY) == 0u) {
    }
    /* above 80 MHz: switch with AHB / 2 for 1 us, then AHB / 1 (RM0440 7.2.7) */
    uint32_t cfgr = MF_REG(RCC_BASE, RCC_CFGR);
    cfgr &= ~((0xFu << RCC_CFGR_HPRE_SHIFT) | 3u);
    MF_REG(RCC_BASE, RCC_CFGR) = cfgr | (RCC_CFGR_HPRE_DIV2 << RCC_CFGR_HPRE_SHIFT)
                                 | RCC_CFGR_SW_PLL;
    while (((MF_REG(RCC_BASE, RCC_CFGR) >> RCC_CFGR_SWS_SHIFT) & 3u) != RCC_CFGR_SW_PLL) {
    }
    busy_wait(MF_SYSCLK_HZ / 2000000u + 1u);  /* >= 1 us */
    MF_REG(RCC_BASE, RCC_CFGR) &= ~(0xFu << RCC_CFGR_HPRE_SHIFT);
}

void mf_hal_gpio_init(void)
{
    MF_REG(RCC_BASE, RCC_AHB2ENR) |= RCC_AHB2ENR_GPIOAEN | RCC_AHB2ENR_GPIOBEN
                                     | RCC_AHB2ENR_GPIOCEN;
    for (uint32_t k = 0u; k < 3u; k++) {
        gpio_af(MF_PIN_PWM_PORT_H, MF_PIN_PWM_H0 + k, MF_PIN_PWM_AF);
        gpio_af(MF_PIN_PWM_PORT_L, MF_PIN_PWM_L0 + k, MF_PIN_PWM_AF);
    }
    gpio_mode(GPIOA_BASE, 2u, 3u);   /* analog: ADC1 IN3, IN4 */
    gpio_mode(GPIOA_BASE, 3u, 3u);
    gpio_mode(GPIOA_BASE, 6u, 3u);   /* analog: ADC2 IN3, IN4 */
    gpio_mode(GPIOA_BASE, 7u, 3u);
    gpio_af(GPIOA_BASE, 11u, 9u);    /* FDCAN1 RX, TX */
    gpio_af(GPIOA_BASE, 12u, 9u);
#if MF_ENC_SPI
    gpio_af(GPIOB_BASE, 3u, 5u);     /* SPI1 SCK, MISO, MOSI */
    gpio_af(GPIOB_BASE, 4u, 5u);
    gpio_af(GPIOB_BASE, 5u, 5u);
    MF_REG(GPIOA_BASE, GPIO_BSRR) = 1u << 15;  /* CS high, then output */
    gpio_mode(GPIOA_BASE, 15u, 1u);
#else
    gpio_af(GPIOA_BASE, 0u, 1u);     /* TIM2 CH1, CH2 */
    gpio_af(GPIOA_BASE, 1u, 1u);
#endif
}

/* -------------------------------------------------------------------- PWM */
void mf_hal_pwm_init(void)
{
    MF_REG(RCC_BASE, RCC_APB2ENR) |= RCC_APB2ENR_TIM1EN;
    MF_REG(TIM1_BASE, TIM_CR1) = TIM_CR1_CMS_CENTER1 | TIM_CR1_ARPE;
    MF_REG(TIM1_BASE, TIM_PSC) = 0u;
    MF_REG(TIM1_BASE, TIM_ARR) = MF_PWM_PERIOD_TICKS;
    MF_REG(TIM1_BASE, TIM_RCR) = 0u;
    /* CH1..3 PWM mode 1 (high side on while CNT < CCR), preload */
    MF_REG(TIM1_BASE, TIM_CCMR1) = (TIM_OCM_PWM1 << TIM_CCMR_OC1M_SHIFT) | TIM_CCMR_OC1PE
                                   | (TIM_OCM_PWM1 << TIM_CCMR_OC2M_SHIFT) | TIM_CCMR_OC2PE;
    /* CH3 PWM mode 1; CH4 PWM mode 2 with CCR4 = ARR - 1: OC4REF rises at the
     * counter's peak, the middle of the low-side on time (shunts conduct) */
    MF_REG(TIM1_BASE, TIM_CCMR2) = (TIM_OCM_PWM1 << TIM_CCMR_OC1M_SHIFT) | TIM_CCMR_OC1PE
                                   | (TIM_OCM_PWM2 << TIM_CCMR_OC2M_SHIFT) | TIM_CCMR_OC2PE;
    MF_REG(TIM1_BASE, TIM_CCR1) = 0u;
    MF_REG(TIM1_BASE, TIM_CCR2) = 0u;
    MF_REG(TIM1_BASE, TIM_CCR3) = 0u;
    MF_REG(TIM1_BASE, TIM_CCR4) = MF_PWM_PERIOD_TICKS - 1u;
    /* outputs and complementary outputs of CH1..3, active high */
    MF_REG(TIM1_BASE, TIM_CCER) = (1u << 0) | (1u << 2) | (1u << 4) | (1u << 6)
                                  | (1u << 8) | (1u << 10);
    /* TRGO2 = OC4REF (MMS2 = 0111): the injected ADC trigger */
    MF_REG(TIM1_BASE, TIM_CR2) = 7u << TIM_CR2_MMS2_SHIFT;
    /* dead time; MOE off: OSSI drives both switches of every leg off (coast) */
    MF_REG(TIM1_BASE, TIM_BDTR) = MF_PWM_DTG | TIM_BDTR_OSSI | TIM_BDTR_OSSR;
    MF_REG(TIM1_BASE, TIM_EGR) = TIM_EGR_UG;
}

static uint32_t duty_ticks(float duty)
{
    float d = duty;
    if (!(d > 0.0f)) {   /* NaN and negative */
        d = 0.0f;
    }
    if (d > 1.0f) {
        d = 1.0f;
    }
    return (uint32_t)(d * (float)MF_PWM_PERIOD_TICKS + 0.5f);
}

void mf_hal_pwm_write(const mf_ctrl_pwm_t *pwm)
{
    MF_REG(TIM1_BASE, TIM_CCR1) = duty_ticks(pwm->duty[0]);
    MF_REG(TIM1_BASE, TIM_CCR2) = duty_ticks(pwm->duty[1]);
    MF_REG(TIM1_BASE, TIM_CCR3) = duty_ticks(pwm->duty[2]);
    if (pwm->pwm_enable) {
        MF_REG(TIM1_BASE, TIM_BDTR) |= TIM_BDTR_MOE;
    } else {
        MF_REG(TIM1_BASE, TIM_BDTR) &= ~TIM_BDTR_MOE;
    }
}

void mf_hal_start(void)
{
    MF_REG(TIM1_BASE, TIM_CR1) |= TIM_CR1_CEN;
}

/* -------------------------------------------------------------------- ADC */
static void adc_smp(uint32_t adc, uint32_t ch)
{
    uint32_t off = ch < 10u ? ADC_SMPR1 : ADC_SMPR2;
    uint32_t sh = 3u * (ch % 10u);
    MF_REG(adc, off) = (MF_REG(adc, off) & ~(7u << sh)) | (MF_ADC_SMP << sh);
}

static void adc_enable(uint32_t adc, uint32_t ch1, uint32_t ch2)
{
    MF_REG(adc, ADC_CR) &= ~ADC_CR_DEEPPWD;
    MF_REG(adc, ADC_CR) |= ADC_CR_ADVREGEN;
    busy_wait(MF_SYSCLK_HZ / 50000u);            /* >= 20 us regulator start-up */
    MF_REG(adc, ADC_CR) |= ADC_CR_ADCAL;         /* single-ended calibration */
    while ((MF_REG(adc, ADC_CR) & ADC_CR_ADCAL) != 0u) {
    }
    busy_wait(64u);
    MF_REG(adc, ADC_ISR) = ADC_ISR_ADRDY;
    MF_REG(adc, ADC_CR) |= ADC_CR_ADEN;
    while ((MF_REG(adc, ADC_ISR) & ADC_ISR_ADRDY) == 0u) {
    }
    adc_smp(adc, ch1);
    adc_smp(adc, ch2);
    MF_REG(adc, ADC_CFGR) |= ADC_CFGR_JQDIS;
    /* two injected conversions (JL = 1) on TIM1_TRGO2, rising edge */
    MF_REG(adc, ADC_JSQR) = 1u | (ADC_JEXTSEL_TIM1_TRGO2 << ADC_JSQR_JEXTSEL_SHIFT)
                            | ADC_JSQR_JEXTEN_RISING | (ch1 << ADC_JSQR_JSQ1_SHIFT)
                            | (ch2 << ADC_JSQR_JSQ2_SHIFT);
}

void mf_hal_adc_init(void)
{
    MF_REG(RCC_BASE, RCC_AHB2ENR) |= RCC_AHB2ENR_ADC12EN;
    MF_REG(ADC12_COMMON_BASE, ADC_COMMON_CCR) = ADC_CCR_CKMODE_HCLK_DIV4;
    adc_enable(ADC1_BASE, MF_ADC1_CH_I_A, MF_ADC1_CH_VBUS);
    adc_enable(ADC2_BASE, MF_ADC2_CH_I_B, MF_ADC2_CH_I_C);
    MF_REG(ADC1_BASE, ADC_ISR) = ADC_ISR_JEOC | ADC_ISR_JEOS;
    MF_REG(ADC2_BASE, ADC_ISR) = ADC_ISR_JEOC | ADC_ISR_JEOS;
    MF_REG(ADC1_BASE, ADC_IER) = ADC_IER_JEOSIE;   /* ADC1 end of sequence: the current loop */
    MF_REG(ADC1_BASE, ADC_CR) |= ADC_CR_JADSTART;  /* armed: converts on each trigger */
    MF_REG(ADC2_BASE, ADC_CR) |= ADC_CR_JADSTART;
    nvic_enable(IRQ_ADC1_2, 0x00u);                /* highest priority */
}

/* The current-loop interrupt: end of ADC1's injected sequence. */
void ADC1_2_IRQHandler(void);
void ADC1_2_IRQHandler(void)
{
    if ((MF_REG(ADC1_BASE, ADC_ISR) & ADC_ISR_JEOS) == 0u) {
        return;
    }
    MF_REG(ADC1_BASE, ADC_ISR) = ADC_ISR_JEOC | ADC_ISR_JEOS;
    /* ADC2 converts in step with ADC1 (same trigger, same sequence length) */
    for (uint32_t n = 0u; n < 1000u && (MF_REG(ADC2_BASE, ADC_ISR) & ADC_ISR_JEOS) == 0u; n++) {
    }
    MF_REG(ADC2_BASE, ADC_ISR) = ADC_ISR_JEOC | ADC_ISR_JEOS;
    mf_hal_current_isr_hook();
}

/* ---------------------------------------------------------------- encoder */
void mf_hal_encoder_init(void)
{
#if MF_ENC_SPI
    MF_REG(RCC_BASE, RCC_APB2ENR) |= RCC_APB2ENR_SPI1EN;
    MF_REG(SPI1_BASE, SPI_CR1) = 0u;
    MF_REG(SPI1_BASE, SPI_CR2) = 15u << SPI_CR2_DS_SHIFT;          /* 16-bit frames */
    MF_REG(SPI1_BASE, SPI_CR1) = SPI_CR1_MSTR | SPI_CR1_CPHA | SPI_CR1_SSM | SPI_CR1_SSI
                                 | (MF_SPI_BR << SPI_CR1_BR_SHIFT);  /* mode 1 */
    MF_REG(SPI1_BASE, SPI_CR1) |= SPI_CR1_SPE;
#else
    MF_REG(RCC_BASE, RCC_APB1ENR1) |= RCC_APB1ENR1_TIM2EN;
    MF_REG(TIM2_BASE, TIM_CR1) = 0u;
    MF_REG(TIM2_BASE, TIM_CCMR1) = 1u | (3u << 4) | (1u << 8) | (3u << 12);  /* TI1, TI2, filter 8 */
    MF_REG(TIM2_BASE, TIM_SMCR) = TIM_SMCR_SMS_ENC3;                     /* x4 quadrature */
    MF_REG(TIM2_BASE, TIM_ARR) = MF_ENC_COUNTS_PER_REV - 1u;
    MF_REG(TIM2_BASE, TIM_CNT) = 0u;
    MF_REG(TIM2_BASE, TIM_CR1) = TIM_CR1_CEN;
#endif
}

#if MF_ENC_SPI
static uint32_t spi_xfer16(uint32_t out)
{
    while ((MF_REG(SPI1_BASE, SPI_SR) & SPI_SR_TXE) == 0u) {
    }
    *(volatile uint16_t *)(uintptr_t)(SPI1_BASE + SPI_DR) = (uint16_t)out;
    while ((MF_REG(SPI1_BASE, SPI_SR) & SPI_SR_RXNE) == 0u) {
    }
    return (uint32_t)*(volatile uint16_t *)(uintptr_t)(SPI1_BASE + SPI_DR);
}
#endif

uint32_t mf_hal_encoder_read(void)
{
#if MF_ENC_SPI
    /* one or two 16-bit frames, most significant first; the angle is
     * (word >> MF_ENC_SPI_SHIFT) modulo the counts per turn */
    uint32_t word = 0u;
    MF_REG(GPIOA_BASE, GPIO_BSRR) = 1u << (15u + 16u);     /* CS low */
    for (uint32_t k = 0u; k < MF_ENC_SPI_FRAMES; k++) {
        word = (word << 16) | spi_xfer16(0xFFFFu);
    }
    MF_REG(GPIOA_BASE, GPIO_BSRR) = 1u << 15;              /* CS high */
    return (word >> MF_ENC_SPI_SHIFT) % MF_ENC_COUNTS_PER_REV;
#else
    return MF_REG(TIM2_BASE, TIM_CNT) % MF_ENC_COUNTS_PER_REV;
#endif
}

void mf_hal_sense_read(mf_ctrl_sense_t *in)
{
    in->adc_i[0] = (uint16_t)MF_REG(ADC1_BASE, ADC_JDR1);
    in->adc_vbus = (uint16_t)MF_REG(ADC1_BASE, ADC_JDR2);
    in->adc_i[1] = (uint16_t)MF_REG(ADC2_BASE, ADC_JDR1);
    in->adc_i[2] = (uint16_t)MF_REG(ADC2_BASE, ADC_JDR2);
    in->enc_count = mf_hal_encoder_read();
    in->temp_motor_c = MF_TEMP_DEFAULT_C;   /* no temperature channel in the board file yet */
    in->temp_fet_c = MF_TEMP_DEFAULT_C;
}

/* -------------------------------------------------------------------- CAN */
static volatile uint32_t *msg_ram(uint32_t off)
{
    return (volatile uint32_t *)(uintptr_t)(SRAMCAN_BASE + off);
}

int mf_hal_can_init(void)
{
    MF_REG(RCC_BASE, RCC_CCIPR) = (MF_REG(RCC_BASE, RCC_CCIPR) & ~(3u << RCC_CCIPR_FDCANSEL_SHIFT))
                                  | (2u << RCC_CCIPR_FDCANSEL_SHIFT);   /* kernel clock PCLK1 */
    MF_REG(RCC_BASE, RCC_APB1ENR1) |= RCC_APB1ENR1_FDCANEN;
    MF_REG(FDCAN1_BASE, FDCAN_CCCR) |= FDCAN_CCCR_INIT;
    while ((MF_REG(FDCAN1_BASE, FDCAN_CCCR) & FDCAN_CCCR_INIT) == 0u) {
    }
    MF_REG(FDCAN1_BASE, FDCAN_CCCR) |= FDCAN_CCCR_CCE;
    MF_REG(FDCAN_CONFIG_BASE, FDCAN_CKDIV) = 0u;          /* kernel clock / 1 */
    MF_REG(FDCAN1_BASE, FDCAN_NBTP) = ((MF_CAN_NSJW - 1u) << 25) | ((MF_CAN_NBRP - 1u) << 16)
                                      | ((MF_CAN_NTSEG1 - 1u) << 8) | (MF_CAN_NTSEG2 - 1u);
#if MF_CAN_FD
    MF_REG(FDCAN1_BASE, FDCAN_DBTP) = ((MF_CAN_DBRP - 1u) << 16) | ((MF_CAN_DTSEG1 - 1u) << 8)
                                      | ((MF_CAN_DTSEG2 - 1u) << 4) | (MF_CAN_DSJW - 1u)
                                      | (MF_CAN_TDC ? FDCAN_DBTP_TDC : 0u);
    MF_REG(FDCAN1_BASE, FDCAN_TDCR) = MF_CAN_TDCO << 8;
    MF_REG(FDCAN1_BASE, FDCAN_CCCR) |= FDCAN_CCCR_FDOE | FDCAN_CCCR_BRSE;
#else
    MF_REG(FDCAN1_BASE, FDCAN_CCCR) &= ~(FDCAN_CCCR_FDOE | FDCAN_CCCR_BRSE);
#endif
    for (uint32_t off = 0u; off < SRAMCAN_SIZE; off += 4u) {
        *msg_ram(off) = 0u;
    }
    /* no filter elements: standard frames -> Rx FIFO 0, extended and remote rejected */
    MF_REG(FDCAN1_BASE, FDCAN_RXGFC) = (3u << 2) | (1u << 1) | 1u;
    MF_REG(FDCAN1_BASE, FDCAN_TXBC) = 0u;                 /* Tx FIFO mode */
    MF_REG(FDCAN1_BASE, FDCAN_CCCR) &= ~FDCAN_CCCR_INIT;
    for (uint32_t n = 0u; n < 1000000u; n++) {
        if ((MF_REG(FDCAN1_BASE, FDCAN_CCCR) & FDCAN_CCCR_INIT) == 0u) {
            return MF_OK;
        }
    }
    return MF_ESTATE;
}

static const uint8_t k_dlc_len[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64};

static uint32_t len_to_dlc(uint32_t len)
{
    uint32_t dlc = 0u;
    while (dlc < 15u && k_dlc_len[dlc] < len) {
        dlc++;
    }
    return dlc;
}

bool mf_hal_can_recv(mf_hal_can_frame_t *f)
{
    uint32_t s = MF_REG(FDCAN1_BASE, FDCAN_RXF0S);
    if ((s & 0xFu) == 0u) {
        return false;
    }
    uint32_t idx = (s >> 8) & 3u;
    uint32_t base = SRAMCAN_RF0 + idx * SRAMCAN_ELEM;
    uint32_t w0 = *msg_ram(base);
    uint32_t w1 = *msg_ram(base + 4u);
    f->id = (w0 >> 18) & 0x7FFu;
    f->fd = ((w1 >> 21) & 1u) != 0u;
    f->len = k_dlc_len[(w1 >> 16) & 0xFu];
    for (uint32_t k = 0u; k < f->len; k += 4u) {
        uint32_t w = *msg_ram(base + 8u + k);
        f->data[k] = (uint8_t)w;
        f->data[k + 1u] = (uint8_t)(w >> 8);
        f->data[k + 2u] = (uint8_t)(w >> 16);
        f->data[k + 3u] = (uint8_t)(w >> 24);
    }
    MF_REG(FDCAN1_BASE, FDCAN_RXF0A) = idx;
    return true;
}

int mf_hal_can_send(const mf_app_frame_t *f)
{
    uint32_t s = MF_REG(FDCAN1_BASE, FDCAN_TXFQS);
    if ((s & FDCAN_TXFQS_TFQF) != 0u) {
        return MF_ESTATE;
    }
    uint32_t len = f->len > 64u ? 64u : f->len;
    uint32_t dlc = len_to_dlc(len);
#if !MF_CAN_FD
    if (f->fd || len > 8u) {
        return MF_ERANGE;
    }
#endif
    uint32_t idx = (s >> 16) & 3u;
    uint32_t base = SRAMCAN_TFQ + idx * SRAMCAN_ELEM;
    *msg_ram(base) = (f->id & 0x7FFu) << 18;
    *msg_ram(base + 4u) = (dlc << 16) | (f->fd ? ((1u << 21) | (1u << 20)) : 0u);  /* FDF, BRS */
    uint8_t pad[64];
    memset(pad, 0, sizeof pad);
    memcpy(pad, f->data, len);
    for (uint32_t k = 0u; k < k_dlc_len[dlc]; k += 4u) {
        *msg_ram(base + 8u + k) = (uint32_t)pad[k] | ((uint32_t)pad[k + 1u] << 8)
                                  | ((uint32_t)pad[k + 2u] << 16) | ((uint32_t)pad[k + 3u] << 24);
    }
    MF_REG(FDCAN1_BASE, FDCAN_TXBAR) = 1u << idx;
    return MF_OK;
}

/* ------------------------------------------------------------------ flash */
static int flash_wait(void)
{
    while ((MF_REG(FLASH_R_BASE, FLASH_SR) & FLASH_SR_BSY) != 0u) {
    }
    uint32_t sr = MF_REG(FLASH_R_BASE, FLASH_SR);
    MF_REG(FLASH_R_BASE, FLASH_SR) = sr & (FLASH_SR_ERRORS | FLASH_SR_EOP);
    return (sr & FLASH_SR_ERRORS) != 0u ? MF_EINVAL : MF_OK;
}

static void flash_unlock(void)
{
    if ((MF_REG(FLASH_R_BASE, FLASH_CR) & FLASH_CR_LOCK) != 0u) {
        MF_REG(FLASH_R_BASE, FLASH_KEYR) = FLASH_KEY1;
        MF_REG(FLASH_R_BASE, FLASH_KEYR) = FLASH_KEY2;
    }
    (void)flash_wait();
}

static bool in_params(uint32_t addr, uint32_t len)
{
    return addr >= MF_PARAMS_ADDR && len <= MF_PARAMS_BYTES
           && addr - MF_PARAMS_ADDR <= MF_PARAMS_BYTES - len;
}

int mf_hal_flash_erase(uint32_t addr, uint32_t len)
{
    /* only the parameter pages: the application never erases its own code */
    if (!in_params(addr, len) || (addr - MF_FLASH_BASE) % MF_FLASH_PAGE_BYTES != 0u
        || len % MF_FLASH_PAGE_BYTES != 0u) {
        return MF_ERANGE;
    }
    int rc = MF_OK;
    flash_unlock();
    for (uint32_t a = addr; a < addr + len && rc == MF_OK; a += MF_FLASH_PAGE_BYTES) {
        uint32_t off = a - MF_FLASH_BASE;
#if MF_FLASH_DUAL_BANK
        uint32_t bank = off / MF_FLASH_BANK_BYTES;
        uint32_t page = (off % MF_FLASH_BANK_BYTES) / MF_FLASH_PAGE_BYTES;
#else
        uint32_t bank = 0u;
        uint32_t page = off / MF_FLASH_PAGE_BYTES;
#endif
        MF_REG(FLASH_R_BASE, FLASH_CR) = FLASH_CR_PER | ((page & 0x7Fu) << FLASH_CR_PNB_SHIFT)
                                         | (bank != 0u ? FLASH_CR_BKER : 0u);
        MF_REG(FLASH_R_BASE, FLASH_CR) |= FLASH_CR_STRT;
        rc = flash_wait();
        MF_REG(FLASH_R_BASE, FLASH_CR) &= ~FLASH_CR_PER;
    }
    MF_REG(FLASH_R_BASE, FLASH_CR) |= FLASH_CR_LOCK;
    return rc;
}

int mf_hal_flash_write(uint32_t addr, const uint8_t *data, uint32_t len)
{
    if (data == NULL) {
        return MF_ENULL;
    }
    if (!in_params(addr, len) || addr % 8u != 0u) {
        return MF_ERANGE;
    }
    int rc = MF_OK;
    flash_unlock();
    MF_REG(FLASH_R_BASE, FLASH_CR) = FLASH_CR_PG;
    for (uint32_t k = 0u; k < len && rc == MF_OK; k += 8u) {
        uint8_t dw[8];
        memset(dw, 0xFF, sizeof dw);
        memcpy(dw, data + k, len - k < 8u ? len - k : 8u);
        uint32_t lo = (uint32_t)dw[0] | ((uint32_t)dw[1] << 8) | ((uint32_t)dw[2] << 16)
                      | ((uint32_t)dw[3] << 24);
        uint32_t hi = (uint32_t)dw[4] | ((uint32_t)dw[5] << 8) | ((uint32_t)dw[6] << 16)
                      | ((uint32_t)dw[7] << 24);
        *(volatile uint32_t *)(uintptr_t)(addr + k) = lo;        /* one double word */
        *(volatile uint32_t *)(uintptr_t)(addr + k + 4u) = hi;
        rc = flash_wait();
    }
    MF_REG(FLASH_R_BASE, FLASH_CR) &= ~FLASH_CR_PG;
    MF_REG(FLASH_R_BASE, FLASH_CR) |= FLASH_CR_LOCK;
    return rc;
}

/* ------------------------------------------------------------------- time */
void mf_hal_systick_init(void)
{
    SYST_RVR = MF_SYSCLK_HZ / 1000u - 1u;
    SYST_CVR = 0u;
    SCB_SHPR3 = (SCB_SHPR3 & 0x00FFFFFFu) | (0xF0u << 24);   /* below the current loop */
    SYST_CSR = 7u;                                            /* CPU clock, interrupt, enable */
}

void SysTick_Handler(void);
void SysTick_Handler(void)
{
    s_ms++;
}

uint32_t mf_hal_time_ms(void)
{
    return s_ms;
}
