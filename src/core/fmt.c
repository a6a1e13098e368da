/*
 * A small snprintf for messages (the library has no libc), plus the log,
 * error-recording, deadline and trace helpers built on the HAL.
 * Conversions: %d %i %u %x %X %p %s %c %%, flags '0' and '-', a width, and
 * the length modifiers l, ll and z.
 */
#include "internal.h"

struct lvio_out {
    char *buf;
    size_t size;
    size_t len; /* characters produced, even past size */
};

static void lvio_out_char(struct lvio_out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void lvio_out_pad(struct lvio_out *o, char c, int n)
{
    while (n-- > 0)
        lvio_out_char(o, c);
}

struct lvio_spec {
    bool left;
    bool zero;
    int width;
};

static void lvio_out_str(struct lvio_out *o, const struct lvio_spec *sp,
                         const char *s)
{
    int n = 0;
    while (s[n])
        n++;
    if (!sp->left)
        lvio_out_pad(o, ' ', sp->width - n);
    for (int i = 0; i < n; i++)
        lvio_out_char(o, s[i]);
    if (sp->left)
        lvio_out_pad(o, ' ', sp->width - n);
}

static void lvio_out_num(struct lvio_out *o, const struct lvio_spec *sp,
                         uint64_t v, unsigned base, bool neg, bool upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    int n = 0;
    do {
        uint64_t digit;
        v = lvio_divmod64(v, base, &digit);
        tmp[n++] = digits[digit];
    } while (v);
    int len = n + (neg ? 1 : 0);
    if (!sp->left && !sp->zero)
        lvio_out_pad(o, ' ', sp->width - len);
    if (neg)
        lvio_out_char(o, '-');
    if (!sp->left && sp->zero)
        lvio_out_pad(o, '0', sp->width - len);
    while (n)
        lvio_out_char(o, tmp[--n]);
    if (sp->left)
        lvio_out_pad(o, ' ', sp->width - len);
}

static const char *lvio_parse_spec(const char *f, struct lvio_spec *sp)
{
    sp->left = sp->zero = false;
    sp->width = 0;
    for (;; f++) {
        if (*f == '-')
            sp->left = true;
        else if (*f == '0')
            sp->zero = true;
        else
            break;
    }
    for (unsigned d; (d = (unsigned)(*f - '0')) <= 9; f++)
        sp->width = sp->width * 10 + (int)d;
    return f;
}

/* Fetch an integer argument of the size the length modifier says. */
static uint64_t lvio_arg_int(va_list *ap, int lng, bool sign, bool *neg)
{
    int64_t s;
    *neg = false;
    if (!sign) {
        if (lng >= 2)
            return va_arg(*ap, unsigned long long);
        if (lng == 1)
            return va_arg(*ap, unsigned long);
        return va_arg(*ap, unsigned int);
    }
    if (lng >= 2)
        s = va_arg(*ap, long long); /* NOLINT(bugprone-branch-clone): not so on ILP32 */
    else if (lng == 1)
        s = va_arg(*ap, long);
    else
        s = va_arg(*ap, int);
    *neg = s < 0;
    return *neg ? (uint64_t)0 - (uint64_t)s : (uint64_t)s;
}

static void lvio_out_conv(struct lvio_out *o, const struct lvio_spec *sp,
                          char c, int lng, va_list *ap)
{
    bool neg;
    uint64_t v;
    switch (c) {
    case 'd':
    case 'i':
        v = lvio_arg_int(ap, lng, true, &neg);
        lvio_out_num(o, sp, v, 10, neg, false);
        break;
    case 'u':
    case 'x':
    case 'X':
        v = lvio_arg_int(ap, lng, false, &neg);
        lvio_out_num(o, sp, v, c == 'u' ? 10 : 16, false, c == 'X');
        break;
    case 'p':
        lvio_out_str(o, &(struct lvio_spec){0}, "0x");
        lvio_out_num(o, sp, (uintptr_t)va_arg(*ap, void *), 16, false, false);
        break;
    case 's': {
        const char *s = va_arg(*ap, const char *);
        lvio_out_str(o, sp, s ? s : "(null)");
        break;
    }
    case 'c':
        lvio_out_char(o, (char)va_arg(*ap, int));
        break;
    default:
        lvio_out_char(o, '%');
        lvio_out_char(o, c);
    }
}

int lvio_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct lvio_out o = {buf, size, 0};
    va_list aq;
    va_copy(aq, ap);
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            lvio_out_char(&o, *f);
            continue;
        }
        if (f[1] == '%') {
            lvio_out_char(&o, '%');
            f++;
            continue;
        }
        struct lvio_spec sp;
        f = lvio_parse_spec(f + 1, &sp);
        int lng = 0;
        for (; *f == 'l' || *f == 'z'; f++)
            lng += *f == 'z' ? 2 : 1;
        if (!*f)
            break;
        lvio_out_conv(&o, &sp, *f, lng, &aq);
    }
    va_end(aq);
    if (size)
        buf[o.len < size ? o.len : size - 1] = '\0';
    return (int)o.len;
}

int lvio_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = lvio_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

static void lvio_vlog(const struct lvio_device *dev, enum lvio_log_level level,
                      bool force, const char *fmt, va_list ap)
{
    const struct lvio_hal *hal = dev->hal;
    char line[256];
    if (!hal || !hal->log || (level > hal->log_level && !force))
        return;
    int n = lvio_snprintf(line, sizeof line, "%s: ", dev->name);
    if (n < 0 || (size_t)n >= sizeof line)
        n = 0;
    lvio_vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    hal->log(hal->ctx, level, line);
}

void lvio_log(const struct lvio_device *dev, enum lvio_log_level level,
              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lvio_vlog(dev, level, false, fmt, ap);
    va_end(ap);
}

void lvio_log_dump(const struct lvio_device *dev, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lvio_vlog(dev, LVIO_LOG_INFO, true, fmt, ap);
    va_end(ap);
}

int lvio_fail(struct lvio_device *dev, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lvio_vsnprintf(dev->errmsg, sizeof dev->errmsg, fmt, ap);
    va_end(ap);
    lvio_log(dev, LVIO_LOG_ERROR, "%s: %s", lvio_errname(err), dev->errmsg);
    return err;
}

const char *lvio_device_error(const struct lvio_device *dev)
{
    return dev ? dev->errmsg : "";
}

void lvio_deadline_start(struct lvio_deadline *d, const struct lvio_hal *hal,
                         uint64_t timeout_ns)
{
    d->start = hal->now_ns(hal->ctx);
    d->timeout = timeout_ns;
    d->latest = d->start;
    d->stalled = 0;
}

uint64_t lvio_deadline_elapsed(const struct lvio_deadline *d,
                               const struct lvio_hal *hal)
{
    uint64_t now = hal->now_ns(hal->ctx);
    return now >= d->start ? now - d->start : 0;
}

/* No arithmetic on the timeout itself: "forever" (UINT64_MAX) stays so. */
bool lvio_deadline_passed(struct lvio_deadline *d, const struct lvio_hal *hal)
{
    uint64_t now = hal->now_ns(hal->ctx);
    if (now > d->latest) {
        d->latest = now;
        d->stalled = 0;
    } else if (d->stalled < LVIO_CLOCK_STALL_POLLS) {
        d->stalled++;
    }
    if ((now >= d->start && now - d->start >= d->timeout) ||
        d->stalled >= LVIO_CLOCK_STALL_POLLS)
        return true;
    if (hal->relax)
        hal->relax(hal->ctx);
    return false;
}

#define LVIO_STR_(x) #x
#define LVIO_STR(x) LVIO_STR_(x)

const char *lvio_deadline_why(const struct lvio_deadline *d)
{
    if (d->stalled >= LVIO_CLOCK_STALL_POLLS)
        return "; the HAL clock stood still for " LVIO_STR(LVIO_CLOCK_STALL_POLLS) " polls";
    return "";
}

void lvio_trace_emit(struct lvio_device *dev, enum lvio_trace_kind kind,
                     uint32_t offset, uint32_t value, uint16_t queue,
                     uint32_t id, uint32_t len)
{
    struct lvio_trace_event ev = {kind, dev, offset, value, queue, id, len};
    if (dev->trace)
        dev->trace(dev->trace_ctx, &ev);
}

int lvio_device_set_trace(struct lvio_device *dev, lvio_trace_fn fn,
                          void *ctx)
{
    if (!dev)
        return LVIO_E_INVAL;
    dev->trace = fn;
    dev->trace_ctx = ctx;
    return LVIO_OK;
}
