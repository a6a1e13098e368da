/* The test kernel's US keyboard layout (kernel/keymap.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "keymap.h"

enum { KEY_1 = 2, KEY_MINUS = 12, KEY_Q = 16, KEY_A = 30, KEY_C = 46, KEY_LEFTSHIFT = 42,
       KEY_RIGHTSHIFT = 54, KEY_CAPSLOCK = 58, KEY_LEFTCTRL = 29, KEY_ENTER = 28,
       KEY_BACKSPACE = 14, KEY_SPACE = 57, KEY_SLASH = 53, KEY_F1 = 59, KEY_UP = 103 };

static int press(struct keymap *km, unsigned code)
{
    bool caps;
    int c = keymap_key(km, (uint16_t)code, 1, &caps);
    assert_int_equal(keymap_key(km, (uint16_t)code, 0, &caps), -1); /* release: nothing */
    return c;
}

static void test_plain_and_shift(void **state)
{
    struct keymap km = {0};
    bool caps;
    (void)state;
    assert_int_equal(press(&km, KEY_A), 'a');
    assert_int_equal(press(&km, KEY_1), '1');
    assert_int_equal(press(&km, KEY_MINUS), '-');
    assert_int_equal(press(&km, KEY_SLASH), '/');
    assert_int_equal(press(&km, KEY_SPACE), ' ');
    assert_int_equal(press(&km, KEY_ENTER), '\r');
    assert_int_equal(press(&km, KEY_BACKSPACE), 0x7f);
    assert_int_equal(keymap_key(&km, KEY_LEFTSHIFT, 1, &caps), -1);
    assert_int_equal(press(&km, KEY_A), 'A');
    assert_int_equal(press(&km, KEY_1), '!');
    assert_int_equal(press(&km, KEY_SLASH), '?');
    assert_int_equal(keymap_key(&km, KEY_LEFTSHIFT, 0, &caps), -1);
    assert_int_equal(press(&km, KEY_Q), 'q');
    /* Either Shift; both held, one released: still shifted. */
    keymap_key(&km, KEY_LEFTSHIFT, 1, &caps);
    keymap_key(&km, KEY_RIGHTSHIFT, 1, &caps);
    keymap_key(&km, KEY_LEFTSHIFT, 0, &caps);
    assert_int_equal(press(&km, KEY_Q), 'Q');
    keymap_key(&km, KEY_RIGHTSHIFT, 0, &caps);
    assert_int_equal(press(&km, KEY_Q), 'q');
}

static void test_caps_lock(void **state)
{
    struct keymap km = {0};
    bool caps;
    (void)state;
    assert_int_equal(keymap_key(&km, KEY_CAPSLOCK, 1, &caps), -1);
    assert_true(caps);
    assert_true(km.caps_lock);
    assert_int_equal(keymap_key(&km, KEY_CAPSLOCK, 2, &caps), -1); /* held: no toggle */
    assert_false(caps);
    assert_int_equal(keymap_key(&km, KEY_CAPSLOCK, 0, &caps), -1);
    assert_false(caps);
    assert_int_equal(press(&km, KEY_A), 'A');
    assert_int_equal(press(&km, KEY_1), '1'); /* Caps Lock is for letters only */
    keymap_key(&km, KEY_LEFTSHIFT, 1, &caps);
    assert_int_equal(press(&km, KEY_A), 'a'); /* Shift undoes it */
    keymap_key(&km, KEY_LEFTSHIFT, 0, &caps);
    keymap_key(&km, KEY_CAPSLOCK, 1, &caps);
    assert_true(caps);
    assert_false(km.caps_lock);
    assert_int_equal(press(&km, KEY_A), 'a');
}

static void test_ctrl_repeat_and_others(void **state)
{
    struct keymap km = {0};
    bool caps;
    (void)state;
    keymap_key(&km, KEY_LEFTCTRL, 1, &caps);
    assert_int_equal(press(&km, KEY_C), 3);
    assert_int_equal(press(&km, KEY_1), -1);
    keymap_key(&km, KEY_LEFTCTRL, 0, &caps);
    assert_int_equal(press(&km, KEY_C), 'c');
    /* Auto-repeat types again. */
    assert_int_equal(keymap_key(&km, KEY_C, 2, &caps), 'c');
    /* Keys without a character, and codes past the table. */
    assert_int_equal(press(&km, KEY_F1), -1);
    assert_int_equal(press(&km, KEY_UP), -1);
    assert_int_equal(press(&km, 0), -1);
    assert_int_equal(press(&km, 0xffff), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_shift),
        cmocka_unit_test(test_caps_lock),
        cmocka_unit_test(test_ctrl_repeat_and_others),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
