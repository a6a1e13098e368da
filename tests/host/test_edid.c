/*
 * The EDID parser alone (include/lvio/edid.h): what it accepts, what it
 * refuses and why, on blocks built as QEMU builds them (sim_gpu_make_edid)
 * and on every single-byte corruption of one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lvio/edid.h"
#include "sim_gpu.h"

static void fix_checksum(uint8_t *e)
{
    uint8_t sum = 0;
    for (unsigned i = 0; i < 127; i++)
        sum = (uint8_t)(sum + e[i]);
    e[127] = (uint8_t)(0x100 - sum);
}

static void expect_refused(const uint8_t *e, const char *because)
{
    uint32_t w = 7, h = 7;
    const char *why = NULL;
    assert_false(lvio_edid_preferred_mode(e, &w, &h, &why));
    assert_non_null(why);
    if (!strstr(why, because))
        fail_msg("refused because \"%s\", expected \"%s\"", why, because);
    assert_int_equal(w, 7); /* untouched */
    assert_int_equal(h, 7);
}

static void test_preferred_modes(void **state)
{
    (void)state;
    static const uint32_t modes[][2] = {
        {1280, 800}, {1024, 768}, {640, 480}, {803, 601}, {1, 1}, {4095, 4095}, {3840, 2160},
    };
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        uint8_t e[LVIO_EDID_BLOCK_SIZE];
        uint32_t w = 0, h = 0;
        sim_gpu_make_edid(e, modes[i][0], modes[i][1]);
        assert_true(lvio_edid_preferred_mode(e, &w, &h, NULL));
        assert_int_equal(w, modes[i][0]);
        assert_int_equal(h, modes[i][1]);
    }
}

static void test_refusals(void **state)
{
    (void)state;
    uint8_t e[LVIO_EDID_BLOCK_SIZE];
    uint32_t w, h;
    sim_gpu_make_edid(e, 1280, 800);
    e[3] = 0;
    fix_checksum(e);
    expect_refused(e, "header");
    sim_gpu_make_edid(e, 1280, 800);
    e[18] = 2;
    fix_checksum(e);
    expect_refused(e, "version");
    sim_gpu_make_edid(e, 1280, 800);
    e[100] ^= 1;
    expect_refused(e, "checksum");
    sim_gpu_make_edid(e, 1280, 800);
    memset(e + 54, 0, 18); /* a display descriptor: pixel clock 0 */
    e[54 + 3] = 0xfc;
    fix_checksum(e);
    expect_refused(e, "not a timing");
    sim_gpu_make_edid(e, 1280, 800);
    e[56] = 0;
    e[58] &= 0x0f; /* active width 0 */
    fix_checksum(e);
    expect_refused(e, "no active area");
    expect_refused(NULL, "no block");
    sim_gpu_make_edid(e, 1280, 800);
    assert_false(lvio_edid_preferred_mode(e, NULL, &h, NULL));
    assert_false(lvio_edid_preferred_mode(e, &w, NULL, NULL));
}

/* Any one byte changed (the checksum not fixed up) is refused; the result
 * never depends on anything but the 128 bytes. */
static void test_every_single_byte_corruption(void **state)
{
    (void)state;
    uint8_t good[LVIO_EDID_BLOCK_SIZE];
    sim_gpu_make_edid(good, 1280, 800);
    for (unsigned i = 0; i < LVIO_EDID_BLOCK_SIZE; i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            uint8_t e[LVIO_EDID_BLOCK_SIZE];
            uint32_t w, h;
            memcpy(e, good, sizeof e);
            e[i] ^= (uint8_t)(1u << bit);
            if (lvio_edid_preferred_mode(e, &w, &h, NULL))
                fail_msg("byte %u bit %u flipped, still accepted as %ux%u", i, bit, w, h);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preferred_modes),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_every_single_byte_corruption),
    };
    return cmocka_run_group_tests_name("edid", tests, NULL, NULL);
}
