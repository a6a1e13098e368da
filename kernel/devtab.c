/*
 * The kernel's device table: one X(name) per driver runner; each defines
 * `const struct kdriver kdriver_<name>` in run_<name>.c (see ktest.h).
 * A new driver adds one name here.
 */
#include "ktest.h"

#define KERNEL_DRIVERS(X) X(rng) X(gpu) X(blk) X(input) X(console) X(net)

#define KDRIVER_DECLARE(n) extern const struct kdriver kdriver_##n;
#define KDRIVER_ENTRY(n) &kdriver_##n,
KERNEL_DRIVERS(KDRIVER_DECLARE)

const struct kdriver *const kernel_drivers[] = {KERNEL_DRIVERS(KDRIVER_ENTRY) NULL};
