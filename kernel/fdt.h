/*
 * A small, defensive reader of flattened device trees (DTB, version 17).
 *
 * The blob is untrusted: fdt_init() checks the header and walks the whole
 * structure block once, and every later read is bounds-checked again, so a
 * corrupt or hostile blob yields a negative fdt_error, never a read outside
 * [blob, blob + size). Nothing is allocated and the blob is never written.
 *
 * Plain C11 (stdint/stddef/stdbool only): builds in the kernel and on the
 * host, where tests/host/test_fdt.c runs it under ASan/UBSan.
 *
 * Typical use:
 *     struct fdt fdt;
 *     struct fdt_walk w;
 *     struct fdt_node node;
 *     uint64_t addr, size;
 *
 *     if (fdt_init(&fdt, blob, blob_len) < 0) ...
 *     fdt_walk_begin(&w, &fdt);
 *     while (fdt_walk_next_compatible(&w, "virtio,mmio", &node) > 0)
 *         if (fdt_node_reg(&fdt, &node, 0, &addr, &size) == FDT_OK) ...
 */
#ifndef KERNEL_FDT_H
#define KERNEL_FDT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest node accepted (the root is depth 0); deeper is FDT_E_DEPTH. */
#define FDT_MAX_DEPTH 16
/* Longest full path, with its NUL; longer is FDT_E_NOSPACE. */
#define FDT_PATH_MAX 256

enum fdt_error {
    FDT_OK = 0,
    FDT_E_TRUNCATED = -1,  /* the blob is shorter than its header says */
    FDT_E_BADMAGIC = -2,   /* not a DTB */
    FDT_E_BADVERSION = -3, /* not version 17 compatible */
    FDT_E_BADLAYOUT = -4,  /* header offsets or sizes outside the blob */
    FDT_E_BADSTRUCT = -5,  /* bad token, name, property or nesting */
    FDT_E_DEPTH = -6,      /* nodes nested deeper than FDT_MAX_DEPTH */
    FDT_E_NOTFOUND = -7,   /* no such node, property or entry */
    FDT_E_BADVALUE = -8,   /* a property's size or cells do not fit the request */
    FDT_E_NOSPACE = -9,    /* a path longer than FDT_PATH_MAX */
};

/* A validated blob. Fields are set by fdt_init and read-only afterwards. */
struct fdt {
    const uint8_t *blob;
    uint32_t size;         /* header totalsize */
    uint32_t struct_off;   /* structure block */
    uint32_t struct_size;
    uint32_t strings_off;  /* strings block */
    uint32_t strings_size;
    uint32_t rsvmap_off;   /* memory reservation block */
};

/*
 * One node, as found by a walk or fdt_find_path. Self-contained: it stays
 * valid as long as the blob does.
 */
struct fdt_node {
    uint32_t offset;     /* its FDT_BEGIN_NODE token, in the structure block */
    uint32_t props;      /* its first property token */
    unsigned depth;      /* root = 0 */
    const char *name;    /* in the blob: "" for the root, "virtio_mmio@a000000" */
    uint32_t addr_cells; /* the parent's #address-cells and #size-cells: */
    uint32_t size_cells; /* how this node's reg is decoded */
    char path[FDT_PATH_MAX]; /* "/", "/soc/uart@1000" */
};

/* A depth-first walk over all nodes. Treat the fields as private. */
struct fdt_walk {
    const struct fdt *fdt;
    uint32_t next;  /* offset of the next token to read */
    unsigned depth; /* nodes currently open */
    int err;        /* sticky: once a walk fails it stays failed */
    uint32_t addr_cells[FDT_MAX_DEPTH + 1]; /* each open node's own */
    uint32_t size_cells[FDT_MAX_DEPTH + 1]; /* #address/#size-cells */
    uint16_t path_len[FDT_MAX_DEPTH + 1];
    char path[FDT_PATH_MAX];
};

/*
 * Validate the blob at `blob`, of which `avail` bytes may be read (pass an
 * upper bound such as 2 MiB when the real size is only known from the
 * header). Returns FDT_OK or a negative fdt_error; on error *fdt is unusable.
 */
int fdt_init(struct fdt *fdt, const void *blob, size_t avail);
const char *fdt_strerror(int err);

/* Walk all nodes in document order, root first. fdt_walk_next returns 1 and
 * fills *node, 0 after the last node, or a negative fdt_error. */
void fdt_walk_begin(struct fdt_walk *w, const struct fdt *fdt);
int fdt_walk_next(struct fdt_walk *w, struct fdt_node *node);
/* Likewise, only nodes whose compatible list contains `compat`. */
int fdt_walk_next_compatible(struct fdt_walk *w, const char *compat,
                             struct fdt_node *node);

/*
 * Find a node by absolute path. A component without a unit address matches
 * one with ("/memory" finds "/memory@40000000"); the first match wins.
 * Returns FDT_OK, FDT_E_NOTFOUND or another negative fdt_error.
 */
int fdt_find_path(const struct fdt *fdt, const char *path,
                  struct fdt_node *node);

/* A property's value and length in bytes; NULL if the node has none. */
const void *fdt_getprop(const struct fdt *fdt, const struct fdt_node *node,
                        const char *name, uint32_t *len);
/* A string property, NULL unless it is NUL-terminated within its length. */
const char *fdt_getprop_string(const struct fdt *fdt,
                               const struct fdt_node *node, const char *name);
/* A one-cell property: FDT_OK, FDT_E_NOTFOUND or FDT_E_BADVALUE. */
int fdt_getprop_u32(const struct fdt *fdt, const struct fdt_node *node,
                    const char *name, uint32_t *value);
/* Whether a string-list value (e.g. compatible) holds `s` exactly. */
bool fdt_stringlist_contains(const void *list, uint32_t len, const char *s);
bool fdt_node_is_compatible(const struct fdt *fdt, const struct fdt_node *node,
                            const char *compat);

/*
 * Entry `index` of the node's reg, decoded with its parent's cells (at most
 * 2 each). FDT_OK, FDT_E_NOTFOUND past the last entry or without reg,
 * FDT_E_BADVALUE for cells the reader cannot decode or a ragged length.
 */
int fdt_node_reg(const struct fdt *fdt, const struct fdt_node *node,
                 unsigned index, uint64_t *addr, uint64_t *size);
/* Number of reg entries, or a negative fdt_error. */
int fdt_node_reg_count(const struct fdt *fdt, const struct fdt_node *node);

/* The first bank of the first memory node (device_type "memory"). */
int fdt_memory(const struct fdt *fdt, uint64_t *base, uint64_t *size);
/* Entry `index` of the memory reservation block; FDT_E_NOTFOUND past the end. */
int fdt_memreserve(const struct fdt *fdt, unsigned index, uint64_t *addr,
                   uint64_t *size);

#endif
