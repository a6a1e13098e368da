/* The library's message formatter and error names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/internal.h"

/* Compare with the C library's printf for the same format and value. */
#define SAME(fmt, ...)                                                        \
    do {                                                                      \
        char a[128], b[128];                                                  \
        int na = lvio_snprintf(a, sizeof a, fmt, __VA_ARGS__);                \
        int nb = snprintf(b, sizeof b, fmt, __VA_ARGS__);                     \
        assert_string_equal(a, b);                                            \
        assert_int_equal(na, nb);                                             \
    } while (0)

static void test_matches_libc(void **state)
{
    (void)state;
    SAME("%d %d %d", 0, -1, 2147483647);
    SAME("%i|%5d|%-5d|%05d", -42, -42, 42, -42);
    SAME("%u %x %X %08x", 4294967295u, 0xdeadbeefu, 0xabcu, 0x1fu);
    SAME("%lu %ld %lx", 123456789ul, -5l, 0xfffful);
    SAME("%llu %llx %016llx", 18446744073709551615ull, 0x123456789abull, 0x42ull);
    SAME("%lld", -9223372036854775807ll - 1);
    SAME("%zu %s|%8s|%-8s|%c%%", (size_t)77, "abc", "ab", "ab", 'z');
    SAME("%02x%02x", 0x0a, 0xff);
}

static void test_truncation(void **state)
{
    (void)state;
    char buf[8];
    int n = lvio_snprintf(buf, sizeof buf, "%s", "0123456789");
    assert_int_equal(n, 10);
    assert_string_equal(buf, "0123456");
    assert_int_equal(lvio_snprintf(NULL, 0, "%d", 12345), 5);
    const char *volatile none = NULL; /* hidden from the format checker */
    assert_int_equal(lvio_snprintf(buf, sizeof buf, "%s", none), 6);
    assert_string_equal(buf, "(null)");
}

static void test_error_names(void **state)
{
    (void)state;
    assert_string_equal(lvio_errname(LVIO_E_TIMEOUT), "LVIO_E_TIMEOUT");
    assert_string_equal(lvio_errname(LVIO_OK), "LVIO_OK");
    assert_string_equal(lvio_errname(12345), "LVIO_E_UNKNOWN");
    assert_string_equal(lvio_strerror(12345), "unknown error");
    /* Every code from 0 down to the last has a distinct name and text. */
    for (int e = 0; e >= LVIO_E_DEVICE; e--) {
        assert_string_not_equal(lvio_errname(e), "LVIO_E_UNKNOWN");
        for (int f = e - 1; f >= LVIO_E_DEVICE; f--)
            assert_string_not_equal(lvio_errname(e), lvio_errname(f));
    }
    assert_string_equal(lvio_device_type_name(LVIO_VIRTIO_ID_RNG), "rng");
    assert_string_equal(lvio_device_type_name(LVIO_VIRTIO_ID_GPU), "gpu");
    assert_string_equal(lvio_device_type_name(999), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_libc),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_error_names),
    };
    return cmocka_run_group_tests_name("fmt", tests, NULL, NULL);
}
