/* stm32g4_regs.h - the STM32G4 registers this HAL uses, written from the
 * reference manual RM0440 (rev 8) and the Cortex-M4 generic user guide.
 * Own definitions, no ST headers: base addresses, offsets and bit positions
 * only, accessed through MF_REG(base, offset). */
#ifndef STM32G4_REGS_H
#define STM32G4_REGS_H

#include <stdint.h>

#define MF_REG(base, off) (*(volatile uint32_t *)((uintptr_t)(base) + (uintptr_t)(off)))

/* ---- Cortex-M4 system (ARMv7-M ARM, B3) ---- */
#define SCB_VTOR        (*(volatile uint32_t *)0xE000ED08u)
#define SCB_CPACR       (*(volatile uint32_t *)0xE000ED88u)
#define SCB_AIRCR       (*(volatile uint32_t *)0xE000ED0Cu)
#define SCB_SHPR3       (*(volatile uint32_t *)0xE000ED20u)   /* SysTick priority: bits 31:24 */
#define SYST_CSR        (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR        (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR        (*(volatile uint32_t *)0xE000E018u)
#define NVIC_ISER(n)    (*(volatile uint32_t *)(0xE000E100u + 4u * (uint32_t)(n)))
#define NVIC_ICER(n)    (*(volatile uint32_t *)(0xE000E180u + 4u * (uint32_t)(n)))
#define NVIC_IPR_BYTE(n) (*(volatile uint8_t *)(0xE000E400u + (uint32_t)(n)))

/* ---- IRQ numbers (RM0440 table 97) ---- */
#define IRQ_ADC1_2      18u
#define IRQ_FDCAN1_IT0  21u
#define IRQ_COUNT       102u   /* 0..101 (FMAC is the last) */

/* ---- base addresses (RM0440 2.2.2, memory map) ---- */
#define PWR_BASE        0x40007000u
#define RCC_BASE        0x40021000u
#define FLASH_R_BASE    0x40022000u
#define GPIOA_BASE      0x48000000u
#define GPIOB_BASE      0x48000400u
#define GPIOC_BASE      0x48000800u
#define TIM1_BASE       0x40012C00u
#define TIM2_BASE       0x40000000u
#define SPI1_BASE       0x40013000u
#define FDCAN1_BASE     0x40006400u
#define FDCAN_CONFIG_BASE 0x40006500u   /* CKDIV */
#define SRAMCAN_BASE    0x4000A400u     /* FDCAN1 message RAM */
#define ADC1_BASE       0x50000000u
#define ADC2_BASE       0x50000100u
#define ADC12_COMMON_BASE 0x50000300u

/* ---- RCC (RM0440 7.4) ---- */
#define RCC_CR          0x00u
#define RCC_CR_HSION      (1u << 8)
#define RCC_CR_HSIRDY     (1u << 10)
#define RCC_CR_HSEON      (1u << 16)
#define RCC_CR_HSERDY     (1u << 17)
#define RCC_CR_PLLON      (1u << 24)
#define RCC_CR_PLLRDY     (1u << 25)
#define RCC_CFGR        0x08u
#define RCC_CFGR_SW_PLL   3u          /* SW[1:0] */
#define RCC_CFGR_SWS_SHIFT 2u
#define RCC_CFGR_HPRE_SHIFT 4u        /* 0xxx /1, 1000 /2 */
#define RCC_CFGR_HPRE_DIV2 8u
#define RCC_PLLCFGR     0x0Cu
#define RCC_PLLCFGR_SRC_HSI 2u        /* PLLSRC[1:0] */
#define RCC_PLLCFGR_SRC_HSE 3u
#define RCC_PLLCFGR_M_SHIFT 4u        /* PLLM[3:0]: M - 1 */
#define RCC_PLLCFGR_N_SHIFT 8u        /* PLLN[6:0]: N */
#define RCC_PLLCFGR_REN   (1u << 24)
#define RCC_PLLCFGR_R_SHIFT 25u       /* PLLR[1:0]: R/2 - 1 */
#define RCC_AHB2ENR     0x4Cu
#define RCC_AHB2ENR_GPIOAEN (1u << 0)
#define RCC_AHB2ENR_GPIOBEN (1u << 1)
#define RCC_AHB2ENR_GPIOCEN (1u << 2)
#define RCC_AHB2ENR_ADC12EN (1u << 13)
#define RCC_APB1ENR1    0x58u
#define RCC_APB1ENR1_TIM2EN  (1u << 0)
#define RCC_APB1ENR1_FDCANEN (1u << 25)
#define RCC_APB1ENR1_PWREN   (1u << 28)
#define RCC_APB2ENR     0x60u
#define RCC_APB2ENR_SYSCFGEN (1u << 0)
#define RCC_APB2ENR_TIM1EN   (1u << 11)
#define RCC_APB2ENR_SPI1EN   (1u << 12)
#define RCC_CCIPR       0x88u
#define RCC_CCIPR_FDCANSEL_SHIFT 24u  /* 10: PCLK1 */
#define RCC_CCIPR_ADC12SEL_SHIFT 28u  /* 10: system clock */

/* ---- PWR (RM0440 6.4) ---- */
#define PWR_CR5         0x80u
#define PWR_CR5_R1MODE    (1u << 8)   /* 0: range 1 boost mode (> 150 MHz) */

/* ---- FLASH (RM0440 5.7) ---- */
#define FLASH_ACR       0x00u
#define FLASH_ACR_PRFTEN  (1u << 8)
#define FLASH_ACR_ICEN    (1u << 9)
#define FLASH_ACR_DCEN    (1u << 10)
#define FLASH_KEYR      0x08u
#define FLASH_KEY1        0x45670123u
#define FLASH_KEY2        0xCDEF89ABu
#define FLASH_SR        0x10u
#define FLASH_SR_EOP      (1u << 0)
#define FLASH_SR_ERRORS   0x0000C3FAu /* OPERR PROGERR WRPERR PGAERR SIZERR PGSERR MISSERR FASTERR RDERR OPTVERR */
#define FLASH_SR_BSY      (1u << 16)
#define FLASH_CR        0x14u
#define FLASH_CR_PG       (1u << 0)
#define FLASH_CR_PER      (1u << 1)
#define FLASH_CR_PNB_SHIFT 3u         /* PNB[6:0] */
#define FLASH_CR_BKER     (1u << 11)
#define FLASH_CR_STRT     (1u << 16)
#define FLASH_CR_LOCK     (1u << 31)

/* ---- GPIO (RM0440 9.4) ---- */
#define GPIO_MODER      0x00u         /* 00 in, 01 out, 10 AF, 11 analog */
#define GPIO_OSPEEDR    0x08u
#define GPIO_BSRR       0x18u
#define GPIO_AFRL       0x20u
#define GPIO_AFRH       0x24u

/* ---- TIM1 advanced-control timer (RM0440 28.6) ---- */
#define TIM_CR1         0x00u
#define TIM_CR1_CEN       (1u << 0)
#define TIM_CR1_CMS_CENTER1 (1u << 5)  /* CMS = 01 */
#define TIM_CR1_ARPE      (1u << 7)
#define TIM_CR2         0x04u
#define TIM_CR2_MMS2_SHIFT 20u        /* MMS2[3:0]: 0111 = OC4REF -> TRGO2 */
#define TIM_SMCR        0x08u
#define TIM_DIER        0x0Cu
#define TIM_SR          0x10u
#define TIM_EGR         0x14u
#define TIM_EGR_UG        (1u << 0)
#define TIM_CCMR1       0x18u
#define TIM_CCMR2       0x1Cu
#define TIM_CCER        0x20u
#define TIM_CNT         0x24u
#define TIM_PSC         0x28u
#define TIM_ARR         0x2Cu
#define TIM_RCR         0x30u
#define TIM_CCR1        0x34u
#define TIM_CCR2        0x38u
#define TIM_CCR3        0x3Cu
#define TIM_CCR4        0x40u
#define TIM_BDTR        0x44u
#define TIM_BDTR_OSSI     (1u << 10)
#define TIM_BDTR_OSSR     (1u << 11)
#define TIM_BDTR_MOE      (1u << 15)
#define TIM_OCM_PWM1      6u          /* OCxM[2:0] = 110 */
#define TIM_OCM_PWM2      7u          /* OCxM[2:0] = 111 */
#define TIM_CCMR_OC1PE    (1u << 3)
#define TIM_CCMR_OC2PE    (1u << 11)
#define TIM_CCMR_OC1M_SHIFT 4u
#define TIM_CCMR_OC2M_SHIFT 12u
#define TIM_SMCR_SMS_ENC3 3u          /* encoder mode 3 (x4) */

/* ---- SPI (RM0440 39.6) ---- */
#define SPI_CR1         0x00u
#define SPI_CR1_CPHA      (1u << 0)
#define SPI_CR1_MSTR      (1u << 2)
#define SPI_CR1_BR_SHIFT  3u
#define SPI_CR1_SPE       (1u << 6)
#define SPI_CR1_SSI       (1u << 8)
#define SPI_CR1_SSM       (1u << 9)
#define SPI_CR2         0x04u
#define SPI_CR2_DS_SHIFT  8u          /* DS[3:0] = bits - 1 */
#define SPI_SR          0x08u
#define SPI_SR_RXNE       (1u << 0)
#define SPI_SR_TXE        (1u << 1)
#define SPI_SR_BSY        (1u << 7)
#define SPI_DR          0x0Cu

/* ---- ADC (RM0440 21.7) ---- */
#define ADC_ISR         0x00u
#define ADC_ISR_ADRDY     (1u << 0)
#define ADC_ISR_JEOC      (1u << 5)
#define ADC_ISR_JEOS      (1u << 6)
#define ADC_IER         0x04u
#define ADC_IER_JEOSIE    (1u << 6)
#define ADC_CR          0x08u
#define ADC_CR_ADEN       (1u << 0)
#define ADC_CR_JADSTART   (1u << 3)
#define ADC_CR_ADVREGEN   (1u << 28)
#define ADC_CR_DEEPPWD    (1u << 29)
#define ADC_CR_ADCAL      (1u << 31)
#define ADC_CFGR        0x0Cu
#define ADC_CFGR_JQDIS    (1u << 31)
#define ADC_SMPR1       0x14u
#define ADC_SMPR2       0x18u
#define ADC_JSQR        0x4Cu
#define ADC_JSQR_JEXTSEL_SHIFT 2u     /* 01000 = TIM1_TRGO2 (ADC12) */
#define ADC_JSQR_JEXTEN_RISING (1u << 7)
#define ADC_JSQR_JSQ1_SHIFT 9u
#define ADC_JSQR_JSQ2_SHIFT 15u
#define ADC_JDR1        0x80u
#define ADC_JDR2        0x84u
#define ADC_COMMON_CCR  0x08u
#define ADC_CCR_CKMODE_HCLK_DIV4 (3u << 16)  /* synchronous clock HCLK/4 = 42.5 MHz */
#define ADC_JEXTSEL_TIM1_TRGO2 8u

/* ---- FDCAN (RM0440 44.4) ---- */
#define FDCAN_DBTP      0x0Cu         /* DSJW[3:0] DTSEG2[7:4] DTSEG1[12:8] DBRP[20:16] TDC[23] */
#define FDCAN_DBTP_TDC    (1u << 23)
#define FDCAN_CCCR      0x18u
#define FDCAN_CCCR_INIT   (1u << 0)
#define FDCAN_CCCR_CCE    (1u << 1)
#define FDCAN_CCCR_FDOE   (1u << 8)
#define FDCAN_CCCR_BRSE   (1u << 9)
#define FDCAN_NBTP      0x1Cu         /* NTSEG2[6:0] NTSEG1[15:8] NBRP[24:16] NSJW[31:25] */
#define FDCAN_TDCR      0x48u         /* TDCF[6:0] TDCO[14:8] */
#define FDCAN_IR        0x50u
#define FDCAN_RXGFC     0x80u         /* ANFS[5:4] ANFE[3:2] RRFS[1] RRFE[0] */
#define FDCAN_RXF0S     0x90u         /* F0FL[3:0] F0GI[9:8] */
#define FDCAN_RXF0A     0x94u
#define FDCAN_TXBC      0xC0u
#define FDCAN_TXFQS     0xC4u         /* TFQPI[17:16] TFQF[21] */
#define FDCAN_TXFQS_TFQF  (1u << 21)
#define FDCAN_TXBAR     0xCCu
#define FDCAN_CKDIV     0x00u         /* at FDCAN_CONFIG_BASE */
/* Message RAM of one instance (fixed layout, RM0440 44.3.3), byte offsets */
#define SRAMCAN_FLS     0x000u        /* 28 standard filters, 1 word each */
#define SRAMCAN_FLE     0x070u        /* 8 extended filters, 2 words each */
#define SRAMCAN_RF0     0x0B0u        /* Rx FIFO 0: 3 elements of 18 words */
#define SRAMCAN_RF1     0x188u        /* Rx FIFO 1 */
#define SRAMCAN_TEF     0x260u        /* Tx event FIFO: 3 x 2 words */
#define SRAMCAN_TFQ     0x278u        /* Tx buffers: 3 x 18 words */
#define SRAMCAN_SIZE    0x350u
#define SRAMCAN_ELEM    72u           /* 18 words */

#endif /* STM32G4_REGS_H */
