/*
 * Host tests of the kernel's device-tree reader (kernel/fdt.c), run from the
 * repository root under ASan/UBSan:
 *   - QEMU's own DTB (tests/host/dtb/qemu-virt.dtb, dumped by
 *     qemu-system-aarch64 -M virt,dumpdtb=... -m 256M -append ...);
 *   - small trees written for the purpose (the .dts files beside it, compiled
 *     by dtc into build/host/dtb/);
 *   - hostile blobs: corrupted headers, hand-built structure blocks,
 *     truncations and byte flips. They must give an error, never a read
 *     outside the blob (each blob lives in a malloc of exactly its size, so
 *     ASan sees any overrun).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fdt.h"

#define QEMU_DTB "tests/host/dtb/qemu-virt.dtb"
#define BASIC_DTB "build/host/dtb/basic.dtb"
#define DEEP_DTB "build/host/dtb/deep.dtb"
#define LONGPATH_DTB "build/host/dtb/longpath.dtb"

struct blob {
    uint8_t *data;
    size_t len;
};

static struct blob load(const char *path)
{
    struct blob b = { 0 };
    FILE *f = fopen(path, "rb");
    long n;

    if (!f)
        fail_msg("cannot open %s (run from the repository root)", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    b.len = (size_t)n;
    b.data = malloc(b.len);
    assert_non_null(b.data);
    assert_int_equal(fread(b.data, 1, b.len, f), b.len);
    fclose(f);
    return b;
}

/* A copy of the first n bytes in an allocation of exactly n bytes. */
static uint8_t *copy_prefix(const struct blob *b, size_t n)
{
    uint8_t *p = malloc(n ? n : 1);

    assert_non_null(p);
    memcpy(p, b->data, n);
    return p;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/*
 * Use everything the reader offers on a blob that passed fdt_init: walk all
 * nodes, read the usual properties, look up paths. Used on mutated blobs,
 * where only "no crash, no overrun" matters.
 */
static void exercise(const struct fdt *fdt)
{
    struct fdt_walk w;
    struct fdt_node node;
    uint64_t a, s;
    uint32_t v;

    fdt_walk_begin(&w, fdt);
    while (fdt_walk_next(&w, &node) > 0) {
        for (unsigned i = 0; fdt_node_reg(fdt, &node, i, &a, &s) == FDT_OK; i++)
            ;
        (void)fdt_getprop_string(fdt, &node, "compatible");
        (void)fdt_getprop_u32(fdt, &node, "#address-cells", &v);
        (void)fdt_node_is_compatible(fdt, &node, "virtio,mmio");
    }
    (void)fdt_find_path(fdt, "/chosen", &node);
    (void)fdt_find_path(fdt, "/soc/uart", &node);
    (void)fdt_memory(fdt, &a, &s);
    for (unsigned i = 0; fdt_memreserve(fdt, i, &a, &s) == FDT_OK && i < 1000; i++)
        ;
}

/* ---- QEMU virt --------------------------------------------------------- */

static int setup_qemu(void **state)
{
    struct blob *b = malloc(sizeof(*b));

    assert_non_null(b);
    *b = load(QEMU_DTB);
    *state = b;
    return 0;
}

static int setup_basic(void **state)
{
    struct blob *b = malloc(sizeof(*b));

    assert_non_null(b);
    *b = load(BASIC_DTB);
    *state = b;
    return 0;
}

static int teardown_blob(void **state)
{
    struct blob *b = *state;

    free(b->data);
    free(b);
    return 0;
}

static void qemu_init(void **state, struct fdt *fdt)
{
    struct blob *b = *state;

    assert_int_equal(fdt_init(fdt, b->data, b->len), FDT_OK);
}

static void test_qemu_virtio_mmio_nodes(void **state)
{
    struct fdt fdt;
    struct fdt_walk w;
    struct fdt_node node;
    bool seen[32] = { false };
    int count = 0, ret;

    qemu_init(state, &fdt);
    fdt_walk_begin(&w, &fdt);
    while ((ret = fdt_walk_next_compatible(&w, "virtio,mmio", &node)) > 0) {
        uint64_t addr, size;
        char path[64];

        assert_int_equal(fdt_node_reg_count(&fdt, &node), 1);
        assert_int_equal(fdt_node_reg(&fdt, &node, 0, &addr, &size), FDT_OK);
        assert_int_equal(size, 0x200);
        assert_true(addr >= 0x0a000000 && addr < 0x0a000000 + 32 * 0x200);
        assert_int_equal((addr - 0x0a000000) % 0x200, 0);
        unsigned slot = (unsigned)((addr - 0x0a000000) / 0x200);

        assert_false(seen[slot]);
        seen[slot] = true;
        snprintf(path, sizeof(path), "/virtio_mmio@%llx", (unsigned long long)addr);
        assert_string_equal(node.path, path);
        assert_string_equal(node.name, path + 1);
        assert_int_equal(node.depth, 1);
        count++;
    }
    assert_int_equal(ret, 0);
    assert_int_equal(count, 32);
}

static void test_qemu_memory(void **state)
{
    struct fdt fdt;
    struct fdt_node node;
    uint64_t base = 0, size = 0;

    qemu_init(state, &fdt);
    assert_int_equal(fdt_memory(&fdt, &base, &size), FDT_OK);
    assert_int_equal(base, 0x40000000);
    assert_int_equal(size, 0x10000000);
    assert_int_equal(fdt_find_path(&fdt, "/memory", &node), FDT_OK);
    assert_string_equal(node.path, "/memory@40000000");
    assert_int_equal(fdt_node_reg(&fdt, &node, 0, &base, &size), FDT_OK);
    assert_int_equal(base, 0x40000000);
    assert_int_equal(size, 0x10000000);
}

static void test_qemu_chosen_psci_uart(void **state)
{
    struct fdt fdt;
    struct fdt_node node;
    struct fdt_walk w;
    uint64_t addr, size;

    qemu_init(state, &fdt);
    assert_int_equal(fdt_find_path(&fdt, "/chosen", &node), FDT_OK);
    assert_string_equal(fdt_getprop_string(&fdt, &node, "bootargs"),
                        "poweroff console=ttyAMA0 lvio.test=rng");
    assert_string_equal(fdt_getprop_string(&fdt, &node, "stdout-path"),
                        "/pl011@9000000");

    assert_int_equal(fdt_find_path(&fdt, "/psci", &node), FDT_OK);
    assert_string_equal(fdt_getprop_string(&fdt, &node, "method"), "hvc");

    fdt_walk_begin(&w, &fdt);
    assert_int_equal(fdt_walk_next_compatible(&w, "arm,pl011", &node), 1);
    assert_int_equal(fdt_node_reg(&fdt, &node, 0, &addr, &size), FDT_OK);
    assert_int_equal(addr, 0x09000000);
    assert_int_equal(size, 0x1000);
    assert_int_equal(fdt_find_path(&fdt, "/pl011@9000000", &node), FDT_OK);
}

/* For the PCI work: the ECAM and the root's cells as QEMU describes them. */
static void test_qemu_pcie(void **state)
{
    struct fdt fdt;
    struct fdt_walk w;
    struct fdt_node node;
    uint64_t addr, size;
    uint32_t cells;

    qemu_init(state, &fdt);
    fdt_walk_begin(&w, &fdt);
    assert_int_equal(fdt_walk_next_compatible(&w, "pci-host-ecam-generic", &node), 1);
    assert_int_equal(fdt_node_reg(&fdt, &node, 0, &addr, &size), FDT_OK);
    assert_int_equal(addr, 0x4010000000ULL);
    assert_int_equal(size, 0x10000000);
    assert_int_equal(fdt_getprop_u32(&fdt, &node, "#address-cells", &cells), FDT_OK);
    assert_int_equal(cells, 3);
}

static void test_qemu_truncated(void **state)
{
    struct blob *b = *state;
    struct fdt fdt;
    size_t lens[] = { 0, 1, 4, 39, 40, 41, 0x100, b->len / 2, b->len - 1 };

    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        uint8_t *p = copy_prefix(b, lens[i]);

        assert_int_equal(fdt_init(&fdt, p, lens[i]), FDT_E_TRUNCATED);
        free(p);
    }
}

/* ---- the hand-written tree --------------------------------------------- */

static void basic_init(void **state, struct fdt *fdt)
{
    struct blob *b = *state;

    assert_int_equal(fdt_init(fdt, b->data, b->len), FDT_OK);
}

static void test_basic_compatible_and_cells(void **state)
{
    struct fdt fdt;
    struct fdt_walk w;
    struct fdt_node node;
    uint64_t addr, size;

    basic_init(state, &fdt);
    fdt_walk_begin(&w, &fdt);

    /* Under /soc@0: 1 address cell, 1 size cell. */
    assert_int_equal(fdt_walk_next_compatible(&w, "virtio,mmio", &node), 1);
    assert_string_equal(node.path, "/soc@0/virtio@2000");
    assert_int_equal(node.addr_cells, 1);
    assert_int_equal(node.size_cells, 1);
    assert_int_equal(fdt_node_reg(&fdt, &node, 0, &addr, &size), FDT_OK);
    assert_int_equal(addr, 0x2000);
    assert_int_equal(size, 0x200);

    /* Second string of a compatible list; three reg entries. */
    assert_int_equal(fdt_walk_next_compatible(&w, "virtio,mmio", &node), 1);
    assert_string_equal(node.path, "/soc@0/multi@3000");
    assert_int_equal(fdt_node_reg_count(&fdt, &node), 3);
    assert_int_equal(fdt_node_reg(&fdt, &node, 2, &addr, &size), FDT_OK);
    assert_int_equal(addr, 0x5000);
    assert_int_equal(size, 0x8);
    assert_int_equal(fdt_node_reg(&fdt, &node, 3, &addr, &size), FDT_E_NOTFOUND);

    /* "virtio,mmio-not" and "xvirtio,mmio" are not matches. Next is the
     * root-level node: 2 + 2 cells. */
    assert_int_equal(fdt_walk_next_compatible(&w, "virtio,mmio", &node), 1);
    assert_string_equal(node.path, "/virtio@a0000000");
    assert_int_equal(node.addr_cells, 2);
    assert_int_equal(node.size_cells, 2);
    assert_int_equal(fdt_node_reg(&fdt, &node, 0, &addr, &size), FDT_OK);
    assert_int_equal(addr, 0xa0000000);
    assert_int_equal(size, 0x200);

    /* Under a PCI node, 3 address cells: matched, but reg is undecodable. */
    assert_int_equal(fdt_walk_next_compatible(&w, "virtio,mmio", &node), 1);
    assert_string_equal(node.path, "/pci@30000000/dev@1,0");
    assert_int_equal(node.addr_cells, 3);
    assert_int_equal(fdt_node_reg(&fdt, &node, 0, &addr, &size), FDT_E_BADVALUE);

    assert_int_equal(fdt_walk_next_compatible(&w, "virtio,mmio", &node), 0);
    assert_int_equal(fdt_walk_next_compatible(&w, "virtio,mmio", &node), 0);
}

static void test_basic_walk_order(void **state)
{
    static const char *const expect[] = {
        "/", "/chosen", "/memory@80000000", "/cpus", "/cpus/cpu@0",
        "/soc@0", "/soc@0/uart@1000", "/soc@0/virtio@2000",
        "/soc@0/multi@3000", "/soc@0/notvirtio@6000", "/virtio@a0000000",
        "/pci@30000000", "/pci@30000000/dev@1,0",
    };
    struct fdt fdt;
    struct fdt_walk w;
    struct fdt_node node;
    size_t i = 0;

    basic_init(state, &fdt);
    fdt_walk_begin(&w, &fdt);
    while (fdt_walk_next(&w, &node) > 0) {
        assert_true(i < sizeof(expect) / sizeof(expect[0]));
        assert_string_equal(node.path, expect[i]);
        i++;
    }
    assert_int_equal(i, sizeof(expect) / sizeof(expect[0]));
}

static void test_basic_paths(void **state)
{
    struct fdt fdt;
    struct fdt_node node;
    uint64_t addr, size;

    basic_init(state, &fdt);
    assert_int_equal(fdt_find_path(&fdt, "/", &node), FDT_OK);
    assert_string_equal(node.path, "/");
    assert_string_equal(node.name, "");
    assert_int_equal(node.depth, 0);
    assert_int_equal(fdt_find_path(&fdt, "/soc/uart", &node), FDT_OK);
    assert_string_equal(node.path, "/soc@0/uart@1000");
    assert_int_equal(fdt_find_path(&fdt, "/soc@0/uart@1000", &node), FDT_OK);
    assert_int_equal(fdt_find_path(&fdt, "/soc@0/uart@2000", &node), FDT_E_NOTFOUND);
    assert_int_equal(fdt_find_path(&fdt, "/soc/uar", &node), FDT_E_NOTFOUND);
    assert_int_equal(fdt_find_path(&fdt, "/uart", &node), FDT_E_NOTFOUND);
    assert_int_equal(fdt_find_path(&fdt, "chosen", &node), FDT_E_NOTFOUND);
    assert_int_equal(fdt_find_path(&fdt, "/cpus/cpu", &node), FDT_OK);
    /* #size-cells = 0: reg is one address, size 0. */
    assert_int_equal(fdt_node_reg(&fdt, &node, 0, &addr, &size), FDT_OK);
    assert_int_equal(addr, 0);
    assert_int_equal(size, 0);
}

static void test_basic_properties(void **state)
{
    struct fdt fdt;
    struct fdt_node node;
    uint32_t v, len = 99;

    basic_init(state, &fdt);
    assert_int_equal(fdt_find_path(&fdt, "/chosen", &node), FDT_OK);
    assert_string_equal(fdt_getprop_string(&fdt, &node, "bootargs"),
                        "poweroff lvio.test=rng quiet");
    assert_null(fdt_getprop(&fdt, &node, "bootarg", NULL));
    assert_null(fdt_getprop(&fdt, &node, "bootargsx", NULL));

    assert_int_equal(fdt_find_path(&fdt, "/soc/notvirtio", &node), FDT_OK);
    assert_int_equal(fdt_getprop_u32(&fdt, &node, "odd-u32", &v), FDT_E_BADVALUE);
    assert_int_equal(fdt_getprop_u32(&fdt, &node, "missing", &v), FDT_E_NOTFOUND);
    assert_null(fdt_getprop_string(&fdt, &node, "not-a-string"));
    assert_non_null(fdt_getprop(&fdt, &node, "empty", &len));
    assert_int_equal(len, 0);
    assert_null(fdt_getprop_string(&fdt, &node, "empty"));
    assert_false(fdt_node_is_compatible(&fdt, &node, "virtio,mmio"));
    assert_true(fdt_node_is_compatible(&fdt, &node, "xvirtio,mmio"));
    assert_int_equal(fdt_node_reg_count(&fdt, &node), 1);

    /* Properties of a node stop at its first subnode. */
    assert_int_equal(fdt_find_path(&fdt, "/soc", &node), FDT_OK);
    assert_null(fdt_getprop(&fdt, &node, "reg", NULL));
    assert_int_equal(fdt_getprop_u32(&fdt, &node, "#size-cells", &v), FDT_OK);
    assert_int_equal(v, 1);
}

static void test_basic_memory_and_reservations(void **state)
{
    struct fdt fdt;
    struct fdt_node node;
    uint64_t addr, size;

    basic_init(state, &fdt);
    assert_int_equal(fdt_memory(&fdt, &addr, &size), FDT_OK);
    assert_int_equal(addr, 0x80000000);
    assert_int_equal(size, 0x20000000);
    assert_int_equal(fdt_find_path(&fdt, "/memory", &node), FDT_OK);
    assert_int_equal(fdt_node_reg(&fdt, &node, 1, &addr, &size), FDT_OK);
    assert_int_equal(addr, 0x100000000ULL);
    assert_int_equal(size, 0x10000000);

    assert_int_equal(fdt_memreserve(&fdt, 0, &addr, &size), FDT_OK);
    assert_int_equal(addr, 0x48000000);
    assert_int_equal(size, 0x1000);
    assert_int_equal(fdt_memreserve(&fdt, 1, &addr, &size), FDT_OK);
    assert_int_equal(addr, 0x49000000);
    assert_int_equal(size, 0x2000);
    assert_int_equal(fdt_memreserve(&fdt, 2, &addr, &size), FDT_E_NOTFOUND);
}

static void test_stringlist(void **state)
{
    static const char list[] = "a,b\0virtio,mmio\0x";

    (void)state;
    assert_true(fdt_stringlist_contains(list, sizeof(list), "virtio,mmio"));
    assert_true(fdt_stringlist_contains(list, sizeof(list), "a,b"));
    assert_true(fdt_stringlist_contains(list, sizeof(list), "x"));
    assert_false(fdt_stringlist_contains(list, sizeof(list), "virtio"));
    /* Cut before the final NUL: "x" is no longer a string. */
    assert_false(fdt_stringlist_contains(list, sizeof(list) - 1, "x"));
    /* Cut inside "virtio,mmio". */
    assert_false(fdt_stringlist_contains(list, 10, "virtio,mmio"));
    assert_false(fdt_stringlist_contains(list, 0, "a,b"));
}

/* ---- trees that are valid DTBs but beyond the reader's limits ----------- */

static void test_deep_nesting(void **state)
{
    struct blob b = load(DEEP_DTB);
    struct fdt fdt;

    (void)state;
    assert_int_equal(fdt_init(&fdt, b.data, b.len), FDT_E_DEPTH);
    free(b.data);
}

static void test_long_path(void **state)
{
    struct blob b = load(LONGPATH_DTB);
    struct fdt fdt;
    struct fdt_walk w;
    struct fdt_node node;
    int ret;

    (void)state;
    assert_int_equal(fdt_init(&fdt, b.data, b.len), FDT_OK);
    fdt_walk_begin(&w, &fdt);
    while ((ret = fdt_walk_next(&w, &node)) > 0)
        assert_true(strlen(node.path) < FDT_PATH_MAX);
    assert_int_equal(ret, FDT_E_NOSPACE);
    /* The error is sticky. */
    assert_int_equal(fdt_walk_next(&w, &node), FDT_E_NOSPACE);
    assert_int_equal(fdt_walk_next_compatible(&w, "long", &node), FDT_E_NOSPACE);
    free(b.data);
}

/* ---- corrupted headers -------------------------------------------------- */

/* fdt_init on a copy of the basic blob with one header word replaced. */
static int init_with_header_word(const struct blob *b, unsigned off, uint32_t v)
{
    uint8_t *p = copy_prefix(b, b->len);
    struct fdt fdt;
    int err;

    put_be32(p + off, v);
    err = fdt_init(&fdt, p, b->len);
    free(p);
    return err;
}

static void test_header_corruption(void **state)
{
    struct blob *b = *state;
    uint32_t total = get_be32(b->data + 4);
    uint32_t off_struct = get_be32(b->data + 8);

    assert_int_equal(total, b->len);
    assert_int_equal(init_with_header_word(b, 0, 0xd00dfeef), FDT_E_BADMAGIC);
    assert_int_equal(init_with_header_word(b, 0, 0xedfe0dd0), FDT_E_BADMAGIC);
    /* totalsize */
    assert_int_equal(init_with_header_word(b, 4, total + 1), FDT_E_TRUNCATED);
    assert_int_equal(init_with_header_word(b, 4, 0xffffffff), FDT_E_TRUNCATED);
    assert_int_equal(init_with_header_word(b, 4, 39), FDT_E_BADLAYOUT);
    assert_int_equal(init_with_header_word(b, 4, off_struct), FDT_E_BADLAYOUT);
    /* off_dt_struct: outside, misaligned, inside the header, overflowing */
    assert_int_equal(init_with_header_word(b, 8, total), FDT_E_BADLAYOUT);
    assert_int_equal(init_with_header_word(b, 8, off_struct + 2), FDT_E_BADLAYOUT);
    assert_int_equal(init_with_header_word(b, 8, 0), FDT_E_BADLAYOUT);
    assert_int_equal(init_with_header_word(b, 8, 0xfffffffc), FDT_E_BADLAYOUT);
    /* off_dt_strings, size_dt_strings */
    assert_int_equal(init_with_header_word(b, 12, total), FDT_E_BADLAYOUT);
    assert_int_equal(init_with_header_word(b, 12, 0xffffff00), FDT_E_BADLAYOUT);
    assert_int_equal(init_with_header_word(b, 32, total), FDT_E_BADLAYOUT);
    assert_int_equal(init_with_header_word(b, 32, 0xffffffff), FDT_E_BADLAYOUT);
    /* off_mem_rsvmap: misaligned; at the end (no terminator inside) */
    assert_int_equal(init_with_header_word(b, 16, 44), FDT_E_BADLAYOUT);
    assert_int_equal(init_with_header_word(b, 16, total - 8), FDT_E_BADLAYOUT);
    assert_int_equal(init_with_header_word(b, 16, 0xfffffff8), FDT_E_BADLAYOUT);
    /* versions */
    assert_int_equal(init_with_header_word(b, 20, 16), FDT_E_BADVERSION);
    assert_int_equal(init_with_header_word(b, 24, 18), FDT_E_BADVERSION);
    assert_int_equal(init_with_header_word(b, 20, 0xffffffff), FDT_OK);
    /* size_dt_struct: past the blob; cut (no FDT_END) */
    assert_int_equal(init_with_header_word(b, 36, total), FDT_E_BADLAYOUT);
    assert_int_equal(init_with_header_word(b, 36, 0xfffffff0), FDT_E_BADLAYOUT);
    assert_int_equal(init_with_header_word(b, 36, 8), FDT_E_BADSTRUCT);
    assert_int_equal(init_with_header_word(b, 36, 0), FDT_E_BADSTRUCT);
}

static void test_null_and_tiny(void **state)
{
    struct fdt fdt;
    uint8_t zeros[64] = { 0 };

    (void)state;
    assert_int_equal(fdt_init(&fdt, NULL, 100), FDT_E_TRUNCATED);
    assert_int_equal(fdt_init(&fdt, zeros, sizeof(zeros)), FDT_E_BADMAGIC);
}

/* ---- hand-built structure blocks ---------------------------------------- */

#define T_BEGIN 1u
#define T_END_NODE 2u
#define T_PROP 3u
#define T_NOP 4u
#define T_END 9u

/* Builds a blob: header, empty reservation map, structure, strings. */
struct builder {
    uint8_t st[8192];
    size_t st_len;
    char strings[256];
    size_t strings_len;
};

static void b_word(struct builder *b, uint32_t v)
{
    assert_true(b->st_len + 4 <= sizeof(b->st));
    put_be32(b->st + b->st_len, v);
    b->st_len += 4;
}

/* Raw bytes, then zero padding to 4. */
static void b_bytes(struct builder *b, const void *p, size_t n)
{
    assert_true(b->st_len + n + 3 <= sizeof(b->st));
    memcpy(b->st + b->st_len, p, n);
    b->st_len += n;
    while (b->st_len % 4)
        b->st[b->st_len++] = 0;
}

static void b_begin(struct builder *b, const char *name)
{
    b_word(b, T_BEGIN);
    b_bytes(b, name, strlen(name) + 1);
}

static uint32_t b_string(struct builder *b, const char *s)
{
    uint32_t off = (uint32_t)b->strings_len;

    assert_true(b->strings_len + strlen(s) + 1 <= sizeof(b->strings));
    memcpy(b->strings + b->strings_len, s, strlen(s) + 1);
    b->strings_len += strlen(s) + 1;
    return off;
}

static void b_prop(struct builder *b, const char *name, const void *val, uint32_t len)
{
    b_word(b, T_PROP);
    b_word(b, len);
    b_word(b, b_string(b, name));
    b_bytes(b, val, len);
}

/* The finished blob, in an allocation of exactly its size. */
static uint8_t *b_finish(const struct builder *b, size_t *len)
{
    size_t rsv = 40, st = rsv + 16, str = st + b->st_len, total = str + b->strings_len;
    uint8_t *p = calloc(1, total);

    assert_non_null(p);
    put_be32(p + 0, 0xd00dfeed);
    put_be32(p + 4, (uint32_t)total);
    put_be32(p + 8, (uint32_t)st);
    put_be32(p + 12, (uint32_t)str);
    put_be32(p + 16, (uint32_t)rsv);
    put_be32(p + 20, 17);
    put_be32(p + 24, 16);
    put_be32(p + 32, (uint32_t)b->strings_len);
    put_be32(p + 36, (uint32_t)b->st_len);
    memcpy(p + st, b->st, b->st_len);
    memcpy(p + str, b->strings, b->strings_len);
    *len = total;
    return p;
}

static int b_init(const struct builder *b, struct fdt *fdt, uint8_t **blob)
{
    size_t len;

    *blob = b_finish(b, &len);
    return fdt_init(fdt, *blob, len);
}

static int b_check(const struct builder *b)
{
    struct fdt fdt;
    uint8_t *blob;
    int err = b_init(b, &fdt, &blob);

    free(blob);
    return err;
}

static void test_built_minimal(void **state)
{
    struct builder b = { 0 };
    struct fdt fdt;
    struct fdt_walk w;
    struct fdt_node node;
    uint8_t *blob;

    (void)state;
    b_word(&b, T_NOP);
    b_begin(&b, "");
    b_word(&b, T_NOP);
    b_prop(&b, "compatible", "virtio,mmio", 12);
    b_word(&b, T_NOP);
    b_word(&b, T_END_NODE);
    b_word(&b, T_NOP);
    b_word(&b, T_END);
    assert_int_equal(b_init(&b, &fdt, &blob), FDT_OK);
    fdt_walk_begin(&w, &fdt);
    assert_int_equal(fdt_walk_next_compatible(&w, "virtio,mmio", &node), 1);
    assert_string_equal(node.path, "/");
    assert_int_equal(fdt_walk_next(&w, &node), 0);
    free(blob);
}

static void test_built_property_past_end(void **state)
{
    struct builder b = { 0 };

    (void)state;
    b_begin(&b, "");
    b_word(&b, T_PROP);
    b_word(&b, 0x1000); /* length far beyond the structure block */
    b_word(&b, b_string(&b, "reg"));
    b_word(&b, T_END_NODE);
    b_word(&b, T_END);
    assert_int_equal(b_check(&b), FDT_E_BADSTRUCT);

    struct builder c = { 0 };

    b_begin(&c, "");
    b_word(&c, T_PROP);
    b_word(&c, 0xfffffffc); /* would wrap a 32-bit offset */
    b_word(&c, b_string(&c, "reg"));
    b_word(&c, T_END_NODE);
    b_word(&c, T_END);
    assert_int_equal(b_check(&c), FDT_E_BADSTRUCT);

    struct builder d = { 0 };

    b_begin(&d, "");
    b_word(&d, T_PROP); /* header of the property cut by the block end */
    b_word(&d, 4);
    assert_int_equal(b_check(&d), FDT_E_BADSTRUCT);
}

static void test_built_bad_names(void **state)
{
    struct builder b = { 0 };
    char name[12];

    (void)state;
    /* Property name offset outside the strings block. */
    b_begin(&b, "");
    b_word(&b, T_PROP);
    b_word(&b, 0);
    b_word(&b, 200);
    b_word(&b, T_END_NODE);
    b_word(&b, T_END);
    b_string(&b, "x");
    assert_int_equal(b_check(&b), FDT_E_BADSTRUCT);

    /* Property name not terminated inside the strings block. */
    struct builder c = { 0 };

    b_begin(&c, "");
    b_prop(&c, "model", "m", 2);
    b_word(&c, T_END_NODE);
    b_word(&c, T_END);
    c.strings_len--; /* drop "model"'s NUL */
    assert_int_equal(b_check(&c), FDT_E_BADSTRUCT);

    /* Node name running to the end of the structure block. */
    struct builder d = { 0 };

    memset(name, 'n', sizeof(name));
    b_word(&d, T_BEGIN);
    b_bytes(&d, name, sizeof(name)); /* no NUL: 12 bytes, already aligned */
    assert_int_equal(b_check(&d), FDT_E_BADSTRUCT);
}

static void test_built_bad_nesting(void **state)
{
    (void)state;
    {   /* unknown token */
        struct builder b = { 0 };

        b_begin(&b, "");
        b_word(&b, 7);
        b_word(&b, T_END_NODE);
        b_word(&b, T_END);
        assert_int_equal(b_check(&b), FDT_E_BADSTRUCT);
    }
    {   /* no FDT_END */
        struct builder b = { 0 };

        b_begin(&b, "");
        b_word(&b, T_END_NODE);
        assert_int_equal(b_check(&b), FDT_E_BADSTRUCT);
    }
    {   /* FDT_END with a node still open */
        struct builder b = { 0 };

        b_begin(&b, "");
        b_begin(&b, "a");
        b_word(&b, T_END_NODE);
        b_word(&b, T_END);
        assert_int_equal(b_check(&b), FDT_E_BADSTRUCT);
    }
    {   /* one END_NODE too many */
        struct builder b = { 0 };

        b_begin(&b, "");
        b_word(&b, T_END_NODE);
        b_word(&b, T_END_NODE);
        b_word(&b, T_END);
        assert_int_equal(b_check(&b), FDT_E_BADSTRUCT);
    }
    {   /* two roots */
        struct builder b = { 0 };

        b_begin(&b, "");
        b_word(&b, T_END_NODE);
        b_begin(&b, "");
        b_word(&b, T_END_NODE);
        b_word(&b, T_END);
        assert_int_equal(b_check(&b), FDT_E_BADSTRUCT);
    }
    {   /* a property outside any node */
        struct builder b = { 0 };

        b_prop(&b, "x", "", 0);
        b_begin(&b, "");
        b_word(&b, T_END_NODE);
        b_word(&b, T_END);
        assert_int_equal(b_check(&b), FDT_E_BADSTRUCT);
    }
    {   /* empty structure: just FDT_END, no root */
        struct builder b = { 0 };

        b_word(&b, T_END);
        assert_int_equal(b_check(&b), FDT_E_BADSTRUCT);
    }
}

static void test_built_absurd_nesting(void **state)
{
    struct builder *b = calloc(1, sizeof(*b));

    (void)state;
    assert_non_null(b);
    /* 1000 opens, never closed: must stop at the depth limit, not recurse. */
    for (int i = 0; i < 1000; i++)
        b_begin(b, "");
    assert_int_equal(b_check(b), FDT_E_DEPTH);

    /* Exactly at the limit is fine. */
    memset(b, 0, sizeof(*b));
    for (int i = 0; i <= FDT_MAX_DEPTH; i++)
        b_begin(b, i ? "n" : "");
    for (int i = 0; i <= FDT_MAX_DEPTH; i++)
        b_word(b, T_END_NODE);
    b_word(b, T_END);
    assert_int_equal(b_check(b), FDT_OK);

    /* One deeper is not. */
    memset(b, 0, sizeof(*b));
    for (int i = 0; i <= FDT_MAX_DEPTH + 1; i++)
        b_begin(b, i ? "n" : "");
    for (int i = 0; i <= FDT_MAX_DEPTH + 1; i++)
        b_word(b, T_END_NODE);
    b_word(b, T_END);
    assert_int_equal(b_check(b), FDT_E_DEPTH);
    free(b);
}

/* Values that lie about their type: the reader answers, never overreads. */
static void test_built_hostile_values(void **state)
{
    static const uint8_t cells5[4] = { 0, 0, 0, 5 };
    static const uint8_t reg7[7] = { 0 };
    struct builder b = { 0 };
    struct fdt fdt;
    struct fdt_walk w;
    struct fdt_node node;
    uint64_t a, s;
    uint8_t *blob;

    (void)state;
    b_begin(&b, "");
    b_prop(&b, "#address-cells", cells5, 4);
    b_prop(&b, "#size-cells", cells5, 3); /* wrong length: ignored */
    b_begin(&b, "dev@0");
    b_prop(&b, "compatible", "virtio,mmio", 11); /* no NUL */
    b_prop(&b, "reg", reg7, 7);
    b_word(&b, T_END_NODE);
    b_begin(&b, "chosen");
    b_prop(&b, "bootargs", "poweroff", 8); /* no NUL */
    b_word(&b, T_END_NODE);
    b_word(&b, T_END_NODE);
    b_word(&b, T_END);
    assert_int_equal(b_init(&b, &fdt, &blob), FDT_OK);

    fdt_walk_begin(&w, &fdt);
    assert_int_equal(fdt_walk_next_compatible(&w, "virtio,mmio", &node), 0);
    assert_int_equal(fdt_find_path(&fdt, "/dev", &node), FDT_OK);
    assert_int_equal(node.addr_cells, 5);
    assert_int_equal(node.size_cells, 1);
    assert_int_equal(fdt_node_reg(&fdt, &node, 0, &a, &s), FDT_E_BADVALUE);
    assert_int_equal(fdt_find_path(&fdt, "/chosen", &node), FDT_OK);
    assert_null(fdt_getprop_string(&fdt, &node, "bootargs"));
    assert_int_equal(fdt_memory(&fdt, &a, &s), FDT_E_NOTFOUND);
    free(blob);
}

/* ---- mutation sweep ----------------------------------------------------- */

/* Every truncation and a few values at every byte: errors allowed, no crash. */
static void test_mutations(void **state)
{
    struct blob *b = *state;
    static const uint8_t values[] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x09,
                                      0x7f, 0x80, 0xfe, 0xff };
    struct fdt fdt;
    unsigned ok = 0;

    for (size_t n = 0; n < b->len; n++) {
        uint8_t *p = copy_prefix(b, n);

        assert_true(fdt_init(&fdt, p, n) < 0);
        free(p);
    }
    for (size_t i = 0; i < b->len; i++) {
        for (size_t v = 0; v < sizeof(values); v++) {
            uint8_t *p = copy_prefix(b, b->len);

            p[i] = values[v];
            if (fdt_init(&fdt, p, b->len) == FDT_OK) {
                exercise(&fdt);
                ok++;
            }
            free(p);
        }
    }
    assert_true(ok > 0); /* some mutations (in values) stay valid */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_qemu_virtio_mmio_nodes, setup_qemu, teardown_blob),
        cmocka_unit_test_setup_teardown(test_qemu_memory, setup_qemu, teardown_blob),
        cmocka_unit_test_setup_teardown(test_qemu_chosen_psci_uart, setup_qemu, teardown_blob),
        cmocka_unit_test_setup_teardown(test_qemu_pcie, setup_qemu, teardown_blob),
        cmocka_unit_test_setup_teardown(test_qemu_truncated, setup_qemu, teardown_blob),
        cmocka_unit_test_setup_teardown(test_basic_compatible_and_cells, setup_basic, teardown_blob),
        cmocka_unit_test_setup_teardown(test_basic_walk_order, setup_basic, teardown_blob),
        cmocka_unit_test_setup_teardown(test_basic_paths, setup_basic, teardown_blob),
        cmocka_unit_test_setup_teardown(test_basic_properties, setup_basic, teardown_blob),
        cmocka_unit_test_setup_teardown(test_basic_memory_and_reservations, setup_basic, teardown_blob),
        cmocka_unit_test(test_stringlist),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_long_path),
        cmocka_unit_test_setup_teardown(test_header_corruption, setup_basic, teardown_blob),
        cmocka_unit_test(test_null_and_tiny),
        cmocka_unit_test(test_built_minimal),
        cmocka_unit_test(test_built_property_past_end),
        cmocka_unit_test(test_built_bad_names),
        cmocka_unit_test(test_built_bad_nesting),
        cmocka_unit_test(test_built_absurd_nesting),
        cmocka_unit_test(test_built_hostile_values),
        cmocka_unit_test_setup_teardown(test_mutations, setup_basic, teardown_blob),
    };

    return cmocka_run_group_tests_name("fdt", tests, NULL, NULL);
}
