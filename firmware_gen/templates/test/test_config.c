/* test_config.c - host unit test of the generated config.h (make host).
 *
 * Compiles the board's initializers, checks that the controller and the
 * application accept them (mf_ctrl_config_problem, mf_app_params_problem,
 * mf_app_init), that the derived hardware numbers agree with the board
 * (PWM period, CAN bit rates, flash layout) and, with --dump, prints the
 * mf_app_config_t bytes in hex (compared with the simulator's by the
 * generator's tests). Exit status 0 when every check passes.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "mf_app.h"
#include "mf_err.h"
#include "mf_params.h"

static int failures;

static void check(int ok, const char *what)
{
    if (!ok) {
        printf("FAIL %s\n", what);
        failures++;
    }
}

int main(int argc, char **argv)
{
    static mf_app_t app;
    mf_app_config_t cfg;
    memset(&cfg, 0, sizeof cfg);   /* padding zero, as the simulator's copy */
    {
        const mf_app_config_t init = MF_BOARD_APP_CONFIG_INIT;
        cfg.ctrl = init.ctrl;
        cfg.app = init.app;
    }
    const char *bad = mf_ctrl_config_problem(&cfg.ctrl);
    if (bad != NULL) {
        printf("FAIL ctrl config field %s\n", bad);
        failures++;
    }
    bad = mf_app_params_problem(&cfg.app);
    if (bad != NULL) {
        printf("FAIL app params field %s\n", bad);
        failures++;
    }
    check(mf_app_init(&app, &cfg) == MF_OK, "mf_app_init accepts the board config");
    check(app.init_ok, "init_ok");
    check(app.ctrl.config_ok, "ctrl config_ok");
    /* PWM: centre-aligned period = clock / (2 f_pwm) ticks */
    check(2u * MF_PWM_PERIOD_TICKS * (unsigned long)MF_PWM_HZ == MF_SYSCLK_HZ, "PWM period ticks");
    /* CAN: clock / (prescaler * (1 + tseg1 + tseg2)) = bit rate */
    check((unsigned long)MF_CAN_NBRP * (1u + MF_CAN_NTSEG1 + MF_CAN_NTSEG2) * MF_CAN_BITRATE_BPS
          == MF_SYSCLK_HZ, "CAN nominal bit timing");
#if MF_CAN_FD
    check((unsigned long)MF_CAN_DBRP * (1u + MF_CAN_DTSEG1 + MF_CAN_DTSEG2) * MF_CAN_DATA_BITRATE_BPS
          == MF_SYSCLK_HZ, "CAN data bit timing");
#endif
    /* flash: slots hold the image header and at least the vector table */
    check(MF_SLOT_A_BYTES == MF_SLOT_B_BYTES, "slot sizes");
    check(MF_APP_A_ADDR == MF_SLOT_A_ADDR + MF_IMAGE_HEADER_BYTES, "slot A load address");
    check(MF_APP_B_ADDR == MF_SLOT_B_ADDR + MF_IMAGE_HEADER_BYTES, "slot B load address");
    check(MF_PARAMS_BYTES >= MF_PARAMS_PAGE_MAX, "parameter region holds a page image");
    check(cfg.app.node_id >= MF_BOARD_NODE_ID_MIN && cfg.app.node_id <= MF_BOARD_NODE_ID_MAX, "node id in range");
    /* a parameter page round trip through the app */
    static uint8_t page[MF_PARAMS_PAGE_MAX];
    int n = mf_app_params_save(&app, page, sizeof page);
    check(n > 0 && (unsigned)n <= MF_PARAMS_PAGE_MAX, "params save");
    check(n > 0 && mf_app_params_load(&app, page, (size_t)n) == MF_OK, "params load");

    if (argc > 1 && strcmp(argv[1], "--dump") == 0) {
        const unsigned char *b = (const unsigned char *)&cfg;
        for (size_t k = 0; k < sizeof cfg; k++) {
            printf("%02x", b[k]);
        }
        printf("\n");
    }
    if (failures == 0) {
        printf("config %s: all checks passed\n", MF_BOARD_NAME);
        return 0;
    }
    return 1;
}
