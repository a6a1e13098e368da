/*
 * A small printf for the kernel: enough for logs, register dumps and test
 * verdicts. See kernel.h for the formats. Output goes either to the console
 * (unbounded) or into a caller's buffer (truncated, always terminated).
 */
#include "kernel.h"

bool warnings_muted;
unsigned warnings_suppressed;

struct sink {
    char *buf;  /* NULL: the console */
    size_t size;
    size_t len; /* characters produced, including those that did not fit */
};

struct spec {
    bool left;
    bool zero;
    int width;
    int prec;   /* -1: none */
    int length; /* LEN_* */
};

enum { LEN_HH, LEN_H, LEN_INT, LEN_L, LEN_LL, LEN_Z, LEN_T, LEN_J };

static void emit(struct sink *s, char c)
{
    if (!s->buf)
        console_putc(c);
    else if (s->len + 1 < s->size)
        s->buf[s->len] = c;
    s->len++;
}

static void pad(struct sink *s, char c, int n)
{
    while (n-- > 0)
        emit(s, c);
}

static void emit_str(struct sink *s, const char *str, const struct spec *sp)
{
    size_t n = 0;

    if (!str)
        str = "(null)";
    while (str[n] && (sp->prec < 0 || n < (size_t)sp->prec))
        n++;
    if (!sp->left)
        pad(s, ' ', sp->width - (int)n);
    for (size_t i = 0; i < n; i++)
        emit(s, str[i]);
    if (sp->left)
        pad(s, ' ', sp->width - (int)n);
}

static void emit_num(struct sink *s, uint64_t v, bool neg, unsigned base,
                     bool upper, const char *prefix, const struct spec *sp)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    int n = 0, extra = (neg ? 1 : 0) + (int)strlen(prefix);

    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v);

    int fill = sp->width - n - extra;

    if (!sp->left && !sp->zero)
        pad(s, ' ', fill);
    if (neg)
        emit(s, '-');
    while (*prefix)
        emit(s, *prefix++);
    if (!sp->left && sp->zero)
        pad(s, '0', fill);
    while (n)
        emit(s, tmp[--n]);
    if (sp->left)
        pad(s, ' ', fill);
}

static int64_t arg_signed(va_list *ap, int length)
{
    switch (length) {
    case LEN_HH: return (signed char)va_arg(*ap, int);
    case LEN_H: return (short)va_arg(*ap, int);
    case LEN_L: return va_arg(*ap, long);
    case LEN_LL: return va_arg(*ap, long long);
    case LEN_Z: return (int64_t)va_arg(*ap, size_t);
    case LEN_T: return va_arg(*ap, ptrdiff_t);
    case LEN_J: return va_arg(*ap, intmax_t);
    default: return va_arg(*ap, int);
    }
}

static uint64_t arg_unsigned(va_list *ap, int length)
{
    switch (length) {
    case LEN_HH: return (unsigned char)va_arg(*ap, unsigned);
    case LEN_H: return (unsigned short)va_arg(*ap, unsigned);
    case LEN_L: return va_arg(*ap, unsigned long);
    case LEN_LL: return va_arg(*ap, unsigned long long);
    case LEN_Z: return va_arg(*ap, size_t);
    case LEN_T: return (uint64_t)va_arg(*ap, ptrdiff_t);
    case LEN_J: return va_arg(*ap, uintmax_t);
    default: return va_arg(*ap, unsigned);
    }
}

/* Parses flags, width, precision and length; returns the conversion char. */
static const char *parse_spec(const char *f, va_list *ap, struct spec *sp)
{
    *sp = (struct spec){ .prec = -1, .length = LEN_INT };
    for (;; f++) {
        if (*f == '-')
            sp->left = true;
        else if (*f == '0')
            sp->zero = true;
        else
            break;
    }
    if (*f == '*') {
        sp->width = va_arg(*ap, int);
        f++;
    }
    for (; *f >= '0' && *f <= '9'; f++)
        sp->width = sp->width * 10 + (*f - '0');
    if (sp->width < 0) {
        sp->left = true;
        sp->width = -sp->width;
    }
    if (*f == '.') {
        f++;
        sp->prec = 0;
        if (*f == '*') {
            sp->prec = va_arg(*ap, int);
            f++;
        }
        for (; *f >= '0' && *f <= '9'; f++)
            sp->prec = sp->prec * 10 + (*f - '0');
    }
    if (*f == 'h') {
        sp->length = f[1] == 'h' ? LEN_HH : LEN_H;
        f += f[1] == 'h' ? 2 : 1;
    } else if (*f == 'l') {
        sp->length = f[1] == 'l' ? LEN_LL : LEN_L;
        f += f[1] == 'l' ? 2 : 1;
    } else if (*f == 'z' || *f == 't' || *f == 'j') {
        sp->length = *f == 'z' ? LEN_Z : *f == 't' ? LEN_T : LEN_J;
        f++;
    }
    return f;
}

static void convert(struct sink *s, char conv, va_list *ap, struct spec *sp)
{
    switch (conv) {
    case 'd':
    case 'i': {
        int64_t v = arg_signed(ap, sp->length);
        uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

        emit_num(s, mag, v < 0, 10, false, "", sp);
        break;
    }
    case 'u':
        emit_num(s, arg_unsigned(ap, sp->length), false, 10, false, "", sp);
        break;
    case 'x':
    case 'X':
        emit_num(s, arg_unsigned(ap, sp->length), false, 16, conv == 'X', "", sp);
        break;
    case 'p':
        sp->zero = true;
        sp->width = 18;
        emit_num(s, (uintptr_t)va_arg(*ap, void *), false, 16, false, "0x", sp);
        break;
    case 's':
        emit_str(s, va_arg(*ap, const char *), sp);
        break;
    case 'c':
        if (!sp->left)
            pad(s, ' ', sp->width - 1);
        emit(s, (char)va_arg(*ap, int));
        if (sp->left)
            pad(s, ' ', sp->width - 1);
        break;
    case '%':
        emit(s, '%');
        break;
    default: /* unknown: show it rather than guess */
        emit(s, '%');
        emit(s, conv);
        break;
    }
}

static int format(struct sink *s, const char *fmt, va_list ap)
{
    va_list args;
    struct spec sp;

    va_copy(args, ap);
    while (*fmt) {
        if (*fmt != '%') {
            emit(s, *fmt++);
            continue;
        }
        fmt = parse_spec(fmt + 1, &args, &sp);
        if (!*fmt)
            break;
        convert(s, *fmt++, &args, &sp);
    }
    va_end(args);
    if (s->buf && s->size)
        s->buf[s->len < s->size ? s->len : s->size - 1] = '\0';
    return s->len > 0x7fffffff ? 0x7fffffff : (int)s->len;
}

int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct sink s = { .buf = buf, .size = buf ? size : 0 };
    static char dummy[1];

    if (!buf) /* size-only query: count, write nothing */
        s.buf = dummy;
    return format(&s, fmt, ap);
}

int ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = kvsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

int kvprintf(const char *fmt, va_list ap)
{
    struct sink s = { 0 };

    return format(&s, fmt, ap);
}

int kprintf(const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = kvprintf(fmt, ap);
    va_end(ap);
    return n;
}
