/* The library's helper-free 64-bit division (src/core/div64.c), checked
 * against the host's own `/` and `%` on edge values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/internal.h"

static const uint64_t dividends[] = {
    0, 1, 2, 9, 10, 11, 999, 1000, 1001, 999999999, 1000000000, 1000000001,
    0x7fffffffull, 0x80000000ull, 0xfffffffeull, 0xffffffffull, 0x100000000ull,
    0x100000001ull, 0x1fffffffeull, 0xfffffffe00000001ull, 0x123456789abcdef0ull,
    0x7fffffffffffffffull, 0x8000000000000000ull, UINT64_MAX - 1, UINT64_MAX,
};

static const uint64_t divisors[] = {
    1, 2, 3, 7, 8, 10, 16, 512, 1000, 4096, 1000000000, 0x7fffffffull, 0x80000000ull,
    0xffffffffull, 0x100000000ull, 0x100000001ull, 0x123456789ull,
    0x7fffffffffffffffull, 0x8000000000000000ull, UINT64_MAX - 1, UINT64_MAX,
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void check(uint64_t n, uint64_t d)
{
    uint64_t rem = 0xdeadbeef;
    uint64_t q = lvio_div64_soft(n, d, &rem);
    if (q != n / d || rem != n % d)
        fail_msg("%llu / %llu: got %llu rem %llu, want %llu rem %llu", (unsigned long long)n,
                 (unsigned long long)d, (unsigned long long)q, (unsigned long long)rem,
                 (unsigned long long)(n / d), (unsigned long long)(n % d));
    assert_true(lvio_div64_soft(n, d, NULL) == n / d);
    /* What the library's callers use: the same answers. */
    uint64_t r2;
    assert_true(lvio_divmod64(n, d, &r2) == n / d);
    assert_true(r2 == n % d);
    assert_true(lvio_div64(n, d) == n / d);
    assert_true(lvio_mod64(n, d) == n % d);
}

static void test_edges(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(dividends); i++)
        for (size_t j = 0; j < COUNT(divisors); j++) {
            check(dividends[i], divisors[j]);
            /* Neighbours of each pair: off-by-one at the shifts' ends. */
            check(dividends[i] + 1, divisors[j]);
            check(dividends[i] - 1, divisors[j]);
        }
}

static void test_known(void **state)
{
    (void)state;
    uint64_t rem;
    assert_true(lvio_div64_soft(UINT64_MAX, 10, &rem) == 1844674407370955161ull);
    assert_true(rem == 5);
    assert_true(lvio_div64_soft(UINT64_MAX, 1000000000, &rem) == 18446744073ull);
    assert_true(rem == 709551615);
    assert_true(lvio_div64_soft(UINT64_MAX, 0xffffffffull, &rem) == 0x100000001ull);
    assert_true(rem == 0);
    assert_true(lvio_div64_soft(UINT64_MAX, 0x100000001ull, &rem) == 0xffffffffull);
    assert_true(rem == 0);
    assert_true(lvio_div64_soft(0, UINT64_MAX, &rem) == 0);
    assert_true(rem == 0);
    assert_true(lvio_div64_soft(1, 1, &rem) == 1);
    assert_true(rem == 0);
}

/* A pseudo-random sweep (xorshift), divisors of every width. */
static void test_sweep(void **state)
{
    (void)state;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint64_t n = x;
        uint64_t d = x * 0x2545f4914f6cdd1dull;
        d >>= (unsigned)(i % 64);
        check(n, d ? d : 1);
        check(n >> (unsigned)(i % 61), d ? d : 3);
    }
}

/* Never done by the library, but defined: no trap, no endless loop. */
static void test_zero_divisor(void **state)
{
    (void)state;
    uint64_t rem = 0;
    assert_true(lvio_div64_soft(12345, 0, &rem) == UINT64_MAX);
    assert_true(rem == 12345);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_known),
        cmocka_unit_test(test_sweep),
        cmocka_unit_test(test_zero_divisor),
    };
    return cmocka_run_group_tests_name("div64", tests, NULL, NULL);
}
