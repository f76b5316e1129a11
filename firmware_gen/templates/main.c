/* main.c - the myofoc actuator firmware: board bring-up and the main loop.
 *
 * The current loop runs in the ADC interrupt (mf_hal_current_isr_hook:
 * sample -> mf_app_isr -> PWM). The main loop feeds received CAN frames to
 * mf_app_on_frame, sends what mf_app queues, calls mf_app_tick every
 * millisecond and stores the parameter page when a SAVE asks for it; every
 * call into mf_app is made with the current-loop interrupt masked
 * (mf_app.h, concurrency).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "mf_app.h"
#include "mf_err.h"
#include "mf_hal.h"
#include "mf_params.h"

static mf_app_t g_app;                                  /* the one actuator node */
static const mf_app_config_t g_config = MF_BOARD_APP_CONFIG_INIT;

void mf_hal_current_isr_hook(void)
{
    mf_ctrl_sense_t in;
    mf_ctrl_pwm_t out;
    mf_hal_sense_read(&in);
    (void)mf_app_isr(&g_app, &in, &out);
    mf_hal_pwm_write(&out);
}

static void save_params(void)
{
    static uint8_t page[(MF_PARAMS_PAGE_MAX + 7u) & ~7u];
    mf_hal_isr_mask();
    int n = mf_app_params_save(&g_app, page, sizeof page);
    mf_hal_isr_unmask();
    int rc = n;
    if (n > 0) {
        uint32_t len = (uint32_t)n;
        uint32_t erase = (len + MF_FLASH_PAGE_BYTES - 1u) / MF_FLASH_PAGE_BYTES * MF_FLASH_PAGE_BYTES;
        rc = mf_hal_flash_erase(MF_PARAMS_ADDR, erase);
        if (rc == MF_OK) {
            rc = mf_hal_flash_write(MF_PARAMS_ADDR, page, len);
        }
    }
    mf_hal_isr_mask();
    mf_app_save_done(&g_app, rc);
    mf_hal_isr_unmask();
}

int main(void)
{
    mf_hal_clock_init();
    mf_hal_gpio_init();
    mf_hal_pwm_init();          /* outputs off (MOE clear) until the controller enables them */
    mf_hal_adc_init();
    mf_hal_encoder_init();
    (void)mf_hal_can_init();
    mf_hal_systick_init();

    (void)mf_app_init(&g_app, &g_config);
    /* the stored parameters (node id, gains, ...); an erased or bad page
     * leaves the board file's values */
    (void)mf_app_params_load(&g_app, (const uint8_t *)(uintptr_t)MF_PARAMS_ADDR,
                             MF_PARAMS_PAGE_MAX);
    mf_hal_start();

    mf_hal_can_frame_t rx;
    mf_app_frame_t tx;
    bool tx_held = false;       /* popped but the Tx FIFO was full */
    uint32_t last_ms = mf_hal_time_ms();
    for (;;) {
        while (mf_hal_can_recv(&rx)) {
            mf_hal_isr_mask();
            (void)mf_app_on_frame(&g_app, rx.id, rx.data, rx.len, rx.fd);
            mf_hal_isr_unmask();
        }
        for (;;) {
            if (!tx_held) {
                mf_hal_isr_mask();
                tx_held = mf_app_tx_pop(&g_app, &tx);
                mf_hal_isr_unmask();
                if (!tx_held) {
                    break;
                }
            }
            if (mf_hal_can_send(&tx) == MF_ESTATE) {
                break;                               /* FIFO full: retry next turn */
            }
            tx_held = false;
        }
        uint32_t now = mf_hal_time_ms();
        if (now != last_ms) {
            mf_hal_isr_mask();
            mf_app_tick(&g_app, (float)(now - last_ms) * 1e-3f);
            mf_hal_isr_unmask();
            last_ms = now;
        }
        if (mf_app_save_requested(&g_app)) {
            save_params();
        }
    }
}
