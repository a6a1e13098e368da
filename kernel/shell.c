/*
 * The shell (shell.h). Commands: the built-in ones below, and one per
 * driver that has a `shell` hook in the device table (`rng 32`,
 * `blk read …`), found by the driver's name.
 */
#include "shell.h"

#include "ktest.h"

static struct shell_term serial_term;

void shell_term_init(struct shell_term *t, const char *name,
                     void (*write)(void *ctx, const char *s, size_t n), void *ctx)
{
    *t = (struct shell_term){.name = name, .write = write, .ctx = ctx};
}

static void put(struct shell_term *t, const char *s)
{
    t->write(t->ctx, s, strlen(s));
}

void shell_printf(struct shell_term *t, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = kvsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    t->write(t->ctx, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

void shell_prompt(struct shell_term *t)
{
    t->prompted = true;
    put(t, "levitate> ");
}

/* ---- the built-in commands ---------------------------------------------- */

static void cmd_help(struct shell_term *t, int argc, char **argv);

/* The text as typed, spaces and all: from the first word after `echo` to
 * the end of the line (shell_run passes it as argv[argc + 1]). */
static void cmd_echo(struct shell_term *t, int argc, char **argv)
{
    shell_printf(t, "%s\n", argc > 1 ? argv[argc + 1] : "");
}

static void cmd_devices(struct shell_term *t, int argc, char **argv)
{
    unsigned n;
    struct kdev *devs = kernel_devices(&n);
    char how[24];

    (void)argc, (void)argv;
    if (n == 0)
        put(t, "no devices\n");
    for (unsigned i = 0; i < n; i++)
        shell_printf(t, "%u %s %s v%u, %s\n", i, kdev_kind(&devs[i]), devs[i].dev.name,
                     (unsigned)devs[i].dev.version, kdev_service(&devs[i], how, sizeof how));
}

/* A device by its number in `devices`, its name (mmio@0x0a003e00) or its
 * kind (the first rng). */
static struct kdev *find_device(const char *what)
{
    unsigned n;
    struct kdev *devs = kernel_devices(&n);
    char *end;
    uint64_t i = parse_u64(what, &end);

    if (*what && !*end)
        return i < n ? &devs[i] : NULL;
    for (unsigned j = 0; j < n; j++)
        if (strcmp(devs[j].dev.name, what) == 0)
            return &devs[j];
    for (unsigned j = 0; j < n; j++)
        if (strcmp(kdev_kind(&devs[j]), what) == 0)
            return &devs[j];
    return NULL;
}

static void cmd_dump(struct shell_term *t, int argc, char **argv)
{
    struct kdev *k;

    if (argc != 2) {
        put(t, "usage: dump <device: number, name or kind>\n");
        return;
    }
    k = find_device(argv[1]);
    if (!k) {
        shell_printf(t, "dump: no device %s (see devices)\n", argv[1]);
        return;
    }
    lvio_dump(&k->dev); /* through the library's log: the serial line */
}

static void cmd_cursor(struct shell_term *t, int argc, char **argv)
{
    unsigned x, y;

    (void)argc, (void)argv;
    if (gpu_pointer(&x, &y))
        shell_printf(t, "cursor %u %u\n", x, y);
    else
        put(t, "cursor: no screen\n");
}

static void cmd_poweroff(struct shell_term *t, int argc, char **argv)
{
    (void)argc, (void)argv;
    put(t, "powering off\n");
    power_off();
}

struct builtin {
    const char *name, *help;
    void (*fn)(struct shell_term *t, int argc, char **argv);
};

static const struct builtin builtins[] = {
    {"help", "this list", cmd_help},
    {"echo", "echo <text>: print the text", cmd_echo},
    {"devices", "the devices found, numbered", cmd_devices},
    {"dump", "dump <device>: the library's dump of a device (number, name or kind)", cmd_dump},
    {"cursor", "the pointer's position on the first screen, in pixels", cmd_cursor},
    {"poweroff", "power off", cmd_poweroff},
};

static void cmd_help(struct shell_term *t, int argc, char **argv)
{
    (void)argc, (void)argv;
    for (size_t i = 0; i < ARRAY_SIZE(builtins); i++)
        shell_printf(t, "  %-9s %s\n", builtins[i].name, builtins[i].help);
    for (const struct kdriver *const *d = kernel_drivers; *d; d++)
        if ((*d)->shell)
            shell_printf(t, "  %-9s %s\n", (*d)->name, (*d)->shell_help);
}

/* ---- lines ------------------------------------------------------------------ */

void shell_run(struct shell_term *t, char *line)
{
    char *argv[SHELL_ARGS + 2];
    char text[SHELL_LINE];
    int argc = 0;
    bool too_many = false;
    size_t n = strlen(line);

    /* The line as typed, for echo: trailing blanks dropped. */
    while (n && (line[n - 1] == ' ' || line[n - 1] == '\t'))
        n--;
    n = n < sizeof text - 1 ? n : sizeof text - 1;
    memcpy(text, line, n);
    text[n] = '\0';
    for (char *p = line; *p;) {
        while (*p == ' ' || *p == '\t')
            *p++ = '\0';
        if (!*p)
            break;
        if (argc == SHELL_ARGS) {
            too_many = true; /* echo takes its text as typed anyway */
            break;
        }
        argv[argc++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
    }
    argv[argc] = NULL;
    if (argc == 0)
        return;
    /* After the NULL: the text from the second word on, as typed. */
    argv[argc + 1] = argc > 1 ? text + (argv[1] - line) : text + n;
    if (too_many && strcmp(argv[0], "echo") != 0) {
        shell_printf(t, "%s: more than %d words\n", argv[0], SHELL_ARGS);
        return;
    }
    for (size_t i = 0; i < ARRAY_SIZE(builtins); i++)
        if (strcmp(argv[0], builtins[i].name) == 0) {
            builtins[i].fn(t, argc, argv);
            return;
        }
    for (const struct kdriver *const *d = kernel_drivers; *d; d++) {
        if (!(*d)->shell || strcmp(argv[0], (*d)->name) != 0)
            continue;
        struct kdev *k = kernel_first_device(*d);
        if (k)
            (*d)->shell(k, t, argc, argv);
        else
            shell_printf(t, "%s: no %s device\n", argv[0], (*d)->name);
        return;
    }
    shell_printf(t, "%s: unknown command (help lists them)\n", argv[0]);
}

void shell_input(struct shell_term *t, char c)
{
    bool after_cr = t->after_cr;

    t->after_cr = c == '\r';
    if (c == '\n' && after_cr)
        return;
    if (c == '\r' || c == '\n') {
        put(t, "\n");
        t->line[t->len] = '\0';
        t->len = 0;
        shell_run(t, t->line);
        shell_prompt(t);
    } else if (c == '\b' || c == 0x7f) {
        if (t->len) {
            t->len--;
            put(t, "\b \b");
        }
    } else if (c == 0x03) { /* Ctrl-C */
        t->len = 0;
        put(t, "^C\n");
        shell_prompt(t);
    } else if (c >= ' ' && c < 0x7f && t->len + 1 < sizeof t->line) {
        t->line[t->len++] = c;
        t->write(t->ctx, &c, 1);
    }
}

/* ---- the serial line ------------------------------------------------------- */

void shell_console_write(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    console_write(s, n);
}

void shell_notice(const char *fmt, ...)
{
    struct shell_term *t = &serial_term;
    va_list ap;

    console_fresh_line();
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
    if (t->prompted) {
        shell_prompt(t);
        t->write(t->ctx, t->line, t->len);
    }
}

struct shell_term *shell_serial(void)
{
    if (!serial_term.write)
        shell_term_init(&serial_term, "serial", shell_console_write, NULL);
    return &serial_term;
}

void shell_serial_poll(void)
{
    struct shell_term *t = shell_serial();
    int c;

    /* A bound, so that a line that never stops talking cannot starve the
     * other devices. */
    for (unsigned i = 0; i < 64 && (c = console_getc()) >= 0; i++)
        shell_input(t, (char)c);
}
