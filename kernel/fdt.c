/*
 * Flattened device tree reader; see fdt.h. Layout facts from the Devicetree
 * Specification, chapter 5: a 40-byte big-endian header, a memory
 * reservation block of (address, size) pairs ending in (0, 0), a structure
 * block of 4-byte aligned tokens, and a strings block of property names.
 *
 * Every read goes through read_token() or the header/rsvmap helpers, which
 * check bounds themselves: validation in fdt_init is a courtesy (early,
 * clear errors), not what keeps the reads in bounds.
 */
#include "fdt.h"

#define FDT_MAGIC 0xd00dfeedu
#define FDT_HEADER_SIZE 40u
#define FDT_VERSION 17u

#define FDT_BEGIN_NODE 1u
#define FDT_END_NODE 2u
#define FDT_PROP 3u
#define FDT_NOP 4u
#define FDT_END 9u

/* Header field offsets. */
#define HDR_MAGIC 0
#define HDR_TOTALSIZE 4
#define HDR_OFF_STRUCT 8
#define HDR_OFF_STRINGS 12
#define HDR_OFF_RSVMAP 16
#define HDR_VERSION 20
#define HDR_LAST_COMP 24
#define HDR_SIZE_STRINGS 32
#define HDR_SIZE_STRUCT 36

/* Defaults when a parent has no #address-cells / #size-cells (spec 2.3.5). */
#define DEFAULT_ADDR_CELLS 2
#define DEFAULT_SIZE_CELLS 1

struct token {
    uint32_t tag;
    uint32_t next;        /* offset of the following token */
    const char *name;     /* node name or property name */
    const uint8_t *data;  /* property value */
    uint32_t len;         /* property length */
};

/* Local helpers so this file needs no libc (it builds in the kernel too). */
static size_t str_len(const char *s)
{
    size_t n = 0;

    while (s[n])
        n++;
    return n;
}

static bool mem_eq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i])
            return false;
    }
    return true;
}

static bool str_eq(const char *a, const char *b)
{
    size_t n = str_len(a);

    return n == str_len(b) && mem_eq(a, b, n);
}

/* Length of the NUL-terminated string at p, or -1 if none within max. */
static long bounded_len(const uint8_t *p, uint32_t max)
{
    for (uint32_t i = 0; i < max; i++) {
        if (!p[i])
            return (long)i;
    }
    return -1;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* Reads the token at structure-block offset `off`, checking every byte. */
static int read_token(const struct fdt *fdt, uint32_t off, struct token *t)
{
    const uint8_t *s = fdt->blob + fdt->struct_off;
    uint32_t end = fdt->struct_size;
    uint64_t next;
    long n;

    if (off % 4 || off > end || end - off < 4)
        return FDT_E_BADSTRUCT;
    *t = (struct token){ .tag = be32(s + off) };
    off += 4;
    switch (t->tag) {
    case FDT_BEGIN_NODE:
        n = bounded_len(s + off, end - off);
        if (n < 0)
            return FDT_E_BADSTRUCT;
        t->name = (const char *)(s + off);
        next = (uint64_t)off + (uint64_t)n + 1;
        break;
    case FDT_PROP: {
        if (end - off < 8)
            return FDT_E_BADSTRUCT;
        uint32_t len = be32(s + off), nameoff = be32(s + off + 4);

        if (len > end - off - 8 || nameoff >= fdt->strings_size)
            return FDT_E_BADSTRUCT;
        const uint8_t *name = fdt->blob + fdt->strings_off + nameoff;

        if (bounded_len(name, fdt->strings_size - nameoff) < 0)
            return FDT_E_BADSTRUCT;
        t->name = (const char *)name;
        t->data = s + off + 8;
        t->len = len;
        next = (uint64_t)off + 8 + len;
        break;
    }
    case FDT_END_NODE:
    case FDT_NOP:
    case FDT_END:
        next = off;
        break;
    default:
        return FDT_E_BADSTRUCT;
    }
    next = (next + 3) & ~(uint64_t)3;
    if (next > end)
        return FDT_E_BADSTRUCT;
    t->next = (uint32_t)next;
    return FDT_OK;
}

/* Is [off, off + len) inside a blob of `total` bytes? */
static bool block_fits(uint32_t off, uint32_t len, uint32_t total)
{
    return (uint64_t)off + len <= total;
}

static int check_header(struct fdt *fdt, const uint8_t *b, size_t avail)
{
    if (avail < FDT_HEADER_SIZE)
        return FDT_E_TRUNCATED;
    if (be32(b + HDR_MAGIC) != FDT_MAGIC)
        return FDT_E_BADMAGIC;
    if (be32(b + HDR_VERSION) < FDT_VERSION || be32(b + HDR_LAST_COMP) > FDT_VERSION)
        return FDT_E_BADVERSION;
    *fdt = (struct fdt){
        .blob = b,
        .size = be32(b + HDR_TOTALSIZE),
        .struct_off = be32(b + HDR_OFF_STRUCT),
        .struct_size = be32(b + HDR_SIZE_STRUCT),
        .strings_off = be32(b + HDR_OFF_STRINGS),
        .strings_size = be32(b + HDR_SIZE_STRINGS),
        .rsvmap_off = be32(b + HDR_OFF_RSVMAP),
    };
    if (fdt->size > avail)
        return FDT_E_TRUNCATED;
    if (fdt->size < FDT_HEADER_SIZE || fdt->struct_off % 4 || fdt->rsvmap_off % 8 ||
        fdt->struct_off < FDT_HEADER_SIZE || fdt->strings_off < FDT_HEADER_SIZE ||
        fdt->rsvmap_off < FDT_HEADER_SIZE ||
        !block_fits(fdt->struct_off, fdt->struct_size, fdt->size) ||
        !block_fits(fdt->strings_off, fdt->strings_size, fdt->size))
        return FDT_E_BADLAYOUT;
    return FDT_OK;
}

/* The reservation block must end with its (0, 0) entry inside the blob. */
static int check_rsvmap(const struct fdt *fdt)
{
    for (uint64_t off = fdt->rsvmap_off; off + 16 <= fdt->size; off += 16) {
        if (be64(fdt->blob + off) == 0 && be64(fdt->blob + off + 8) == 0)
            return FDT_OK;
    }
    return FDT_E_BADLAYOUT;
}

/*
 * One pass over the structure block: tokens valid, exactly one root, nodes
 * balanced, properties only inside nodes, nesting bounded, FDT_END last.
 */
static int check_struct(const struct fdt *fdt)
{
    struct token t;
    uint32_t off = 0;
    unsigned depth = 0;
    bool seen_root = false;

    for (;;) {
        int err = read_token(fdt, off, &t);

        if (err)
            return err;
        switch (t.tag) {
        case FDT_BEGIN_NODE:
            if (depth == 0 && seen_root)
                return FDT_E_BADSTRUCT; /* a second root */
            if (depth > FDT_MAX_DEPTH)
                return FDT_E_DEPTH;
            seen_root = true;
            depth++;
            break;
        case FDT_END_NODE:
            if (depth == 0)
                return FDT_E_BADSTRUCT;
            depth--;
            break;
        case FDT_PROP:
            if (depth == 0)
                return FDT_E_BADSTRUCT;
            break;
        case FDT_END:
            return depth == 0 && seen_root ? FDT_OK : FDT_E_BADSTRUCT;
        }
        off = t.next;
    }
}

int fdt_init(struct fdt *fdt, const void *blob, size_t avail)
{
    int err;

    if (!fdt || !blob)
        return FDT_E_TRUNCATED;
    err = check_header(fdt, blob, avail);
    if (!err)
        err = check_rsvmap(fdt);
    if (!err)
        err = check_struct(fdt);
    if (err)
        *fdt = (struct fdt){ 0 };
    return err;
}

const char *fdt_strerror(int err)
{
    switch (err) {
    case FDT_OK: return "ok";
    case FDT_E_TRUNCATED: return "truncated";
    case FDT_E_BADMAGIC: return "bad magic";
    case FDT_E_BADVERSION: return "unsupported version";
    case FDT_E_BADLAYOUT: return "bad header layout";
    case FDT_E_BADSTRUCT: return "bad structure block";
    case FDT_E_DEPTH: return "nested too deep";
    case FDT_E_NOTFOUND: return "not found";
    case FDT_E_BADVALUE: return "bad property value";
    case FDT_E_NOSPACE: return "path too long";
    default: return "unknown error";
    }
}

/* ---- walking ------------------------------------------------------------ */

void fdt_walk_begin(struct fdt_walk *w, const struct fdt *fdt)
{
    *w = (struct fdt_walk){ .fdt = fdt };
    if (!fdt->blob)
        w->err = FDT_E_BADSTRUCT;
}

/* Appends `name` to the path of the parent at depth-1. */
static int push_path(struct fdt_walk *w, unsigned depth, const char *name)
{
    size_t base = depth ? w->path_len[depth - 1] : 0;
    size_t n = str_len(name);

    if (depth == 0) {
        w->path[0] = '/';
        w->path_len[0] = 1;
        w->path[1] = '\0';
        return FDT_OK;
    }
    if (depth > 1)
        w->path[base++] = '/';
    if (base + n + 1 > FDT_PATH_MAX)
        return FDT_E_NOSPACE;
    for (size_t i = 0; i < n; i++)
        w->path[base + i] = name[i];
    w->path[base + n] = '\0';
    w->path_len[depth] = (uint16_t)(base + n);
    return FDT_OK;
}

/*
 * Properties precede subnodes, so the node's own #address-cells and
 * #size-cells (needed by its children's reg) are read here, and the walk
 * resumes after its last property.
 */
static int scan_props(struct fdt_walk *w, unsigned depth, uint32_t off)
{
    struct token t;

    w->addr_cells[depth] = DEFAULT_ADDR_CELLS;
    w->size_cells[depth] = DEFAULT_SIZE_CELLS;
    for (;;) {
        int err = read_token(w->fdt, off, &t);

        if (err)
            return err;
        if (t.tag != FDT_PROP && t.tag != FDT_NOP)
            break;
        if (t.tag == FDT_PROP && t.len == 4 && str_eq(t.name, "#address-cells"))
            w->addr_cells[depth] = be32(t.data);
        if (t.tag == FDT_PROP && t.len == 4 && str_eq(t.name, "#size-cells"))
            w->size_cells[depth] = be32(t.data);
        off = t.next;
    }
    w->next = off;
    return FDT_OK;
}

static int enter_node(struct fdt_walk *w, uint32_t off, const struct token *t,
                      struct fdt_node *node)
{
    unsigned depth = w->depth;
    int err;

    if (depth > FDT_MAX_DEPTH)
        return FDT_E_DEPTH;
    err = push_path(w, depth, t->name);
    if (!err)
        err = scan_props(w, depth, t->next);
    if (err)
        return err;
    *node = (struct fdt_node){
        .offset = off,
        .props = t->next,
        .depth = depth,
        .name = t->name,
        .addr_cells = depth ? w->addr_cells[depth - 1] : DEFAULT_ADDR_CELLS,
        .size_cells = depth ? w->size_cells[depth - 1] : DEFAULT_SIZE_CELLS,
    };
    for (size_t i = 0; i <= w->path_len[depth]; i++)
        node->path[i] = w->path[i];
    w->depth++;
    return 1;
}

static int walk_step(struct fdt_walk *w, struct fdt_node *node)
{
    struct token t;
    uint32_t off;

    for (;;) {
        off = w->next;
        int err = read_token(w->fdt, off, &t);

        if (err)
            return err;
        w->next = t.next;
        switch (t.tag) {
        case FDT_BEGIN_NODE:
            return enter_node(w, off, &t, node);
        case FDT_END_NODE:
            if (w->depth == 0)
                return FDT_E_BADSTRUCT;
            w->depth--;
            break;
        case FDT_END:
            w->next = off; /* stay at the end */
            return w->depth == 0 ? 0 : FDT_E_BADSTRUCT;
        default: /* NOP, or a property after a subnode: skip */
            break;
        }
    }
}

int fdt_walk_next(struct fdt_walk *w, struct fdt_node *node)
{
    int ret;

    if (w->err)
        return w->err;
    ret = walk_step(w, node);
    if (ret < 0)
        w->err = ret;
    return ret;
}

int fdt_walk_next_compatible(struct fdt_walk *w, const char *compat,
                             struct fdt_node *node)
{
    int ret;

    while ((ret = fdt_walk_next(w, node)) > 0) {
        if (fdt_node_is_compatible(w->fdt, node, compat))
            return 1;
    }
    return ret;
}

/* ---- paths ------------------------------------------------------------- */

static size_t component_len(const char *p)
{
    size_t n = 0;

    while (p[n] && p[n] != '/')
        n++;
    return n;
}

/* "memory" matches "memory@40000000"; "memory@0" matches only itself. */
static bool component_matches(const char *name, size_t nlen, const char *want,
                              size_t wlen)
{
    for (size_t i = 0; i < wlen; i++) {
        if (want[i] == '@')
            return nlen == wlen && mem_eq(name, want, wlen);
    }
    if (nlen < wlen || !mem_eq(name, want, wlen))
        return false;
    return nlen == wlen || name[wlen] == '@';
}

static bool path_matches(const char *path, const char *want)
{
    for (;;) {
        while (*path == '/')
            path++;
        while (*want == '/')
            want++;
        if (!*path || !*want)
            return !*path && !*want;
        size_t nlen = component_len(path), wlen = component_len(want);

        if (!component_matches(path, nlen, want, wlen))
            return false;
        path += nlen;
        want += wlen;
    }
}

int fdt_find_path(const struct fdt *fdt, const char *path,
                  struct fdt_node *node)
{
    struct fdt_walk w;
    int ret;

    if (!path || path[0] != '/')
        return FDT_E_NOTFOUND;
    fdt_walk_begin(&w, fdt);
    while ((ret = fdt_walk_next(&w, node)) > 0) {
        if (path_matches(node->path, path))
            return FDT_OK;
    }
    return ret < 0 ? ret : FDT_E_NOTFOUND;
}

/* ---- properties -------------------------------------------------------- */

const void *fdt_getprop(const struct fdt *fdt, const struct fdt_node *node,
                        const char *name, uint32_t *len)
{
    struct token t;

    for (uint32_t off = node->props;; off = t.next) {
        if (read_token(fdt, off, &t) || (t.tag != FDT_PROP && t.tag != FDT_NOP))
            return NULL;
        if (t.tag == FDT_PROP && str_eq(t.name, name)) {
            if (len)
                *len = t.len;
            return t.data;
        }
    }
}

const char *fdt_getprop_string(const struct fdt *fdt,
                               const struct fdt_node *node, const char *name)
{
    uint32_t len;
    const char *s = fdt_getprop(fdt, node, name, &len);

    if (!s || len == 0 || s[len - 1] != '\0')
        return NULL;
    return s;
}

int fdt_getprop_u32(const struct fdt *fdt, const struct fdt_node *node,
                    const char *name, uint32_t *value)
{
    uint32_t len;
    const uint8_t *p = fdt_getprop(fdt, node, name, &len);

    if (!p)
        return FDT_E_NOTFOUND;
    if (len != 4)
        return FDT_E_BADVALUE;
    *value = be32(p);
    return FDT_OK;
}

bool fdt_stringlist_contains(const void *list, uint32_t len, const char *s)
{
    const uint8_t *p = list;
    size_t want = str_len(s);

    while (len > 0) {
        long n = bounded_len(p, len);

        if (n < 0)
            return false; /* unterminated tail: not a string */
        if ((size_t)n == want && mem_eq((const char *)p, s, want))
            return true;
        p += n + 1;
        len -= (uint32_t)n + 1;
    }
    return false;
}

bool fdt_node_is_compatible(const struct fdt *fdt, const struct fdt_node *node,
                            const char *compat)
{
    uint32_t len;
    const void *list = fdt_getprop(fdt, node, "compatible", &len);

    return list && fdt_stringlist_contains(list, len, compat);
}

/* ---- reg, memory ------------------------------------------------------- */

static uint64_t read_cells(const uint8_t *p, uint32_t cells)
{
    return cells == 2 ? be64(p) : cells == 1 ? be32(p) : 0;
}

int fdt_node_reg_count(const struct fdt *fdt, const struct fdt_node *node)
{
    uint32_t len, ac = node->addr_cells, sc = node->size_cells;

    if (!fdt_getprop(fdt, node, "reg", &len))
        return FDT_E_NOTFOUND;
    if (ac < 1 || ac > 2 || sc > 2 || len % (4 * (ac + sc)))
        return FDT_E_BADVALUE;
    return (int)(len / (4 * (ac + sc)));
}

int fdt_node_reg(const struct fdt *fdt, const struct fdt_node *node,
                 unsigned index, uint64_t *addr, uint64_t *size)
{
    uint32_t ac = node->addr_cells, sc = node->size_cells;
    int count = fdt_node_reg_count(fdt, node);
    const uint8_t *p;

    if (count < 0)
        return count;
    if (index >= (unsigned)count)
        return FDT_E_NOTFOUND;
    p = (const uint8_t *)fdt_getprop(fdt, node, "reg", NULL) + index * 4 * (ac + sc);
    if (addr)
        *addr = read_cells(p, ac);
    if (size)
        *size = read_cells(p + 4 * ac, sc);
    return FDT_OK;
}

int fdt_memory(const struct fdt *fdt, uint64_t *base, uint64_t *size)
{
    struct fdt_walk w;
    struct fdt_node node;
    int ret;

    fdt_walk_begin(&w, fdt);
    while ((ret = fdt_walk_next(&w, &node)) > 0) {
        const char *type = fdt_getprop_string(fdt, &node, "device_type");

        if (node.depth == 1 && type && str_eq(type, "memory"))
            return fdt_node_reg(fdt, &node, 0, base, size);
    }
    return ret < 0 ? ret : FDT_E_NOTFOUND;
}

int fdt_memreserve(const struct fdt *fdt, unsigned index, uint64_t *addr,
                   uint64_t *size)
{
    for (uint64_t i = 0, off = fdt->rsvmap_off; off + 16 <= fdt->size; i++, off += 16) {
        uint64_t a = be64(fdt->blob + off), s = be64(fdt->blob + off + 8);

        if (a == 0 && s == 0)
            break;
        if (i == index) {
            *addr = a;
            *size = s;
            return FDT_OK;
        }
    }
    return FDT_E_NOTFOUND;
}
