/*
 * virtio-input in the test kernel: bring each device up, say what it is
 * (its lvio: line), check that teardown gives back every page and that a
 * keyboard's Caps Lock LED can be set, then keep it up (idle, from the
 * main loop):
 *   - a keyboard types into the shell (keymap.c: US layout, Shift, Caps
 *     Lock with its LED following, Ctrl-C, Backspace); what it types and
 *     the answers show on the screen's console and the serial line;
 *   - a tablet places the pointer (its absolute axes scaled to the first
 *     screen), a mouse moves it (clamped to the screen); the GPU's
 *     hardware cursor follows (run_gpu.c);
 *   - a button press is said where it happened:
 *     `levitate: input <dev>: <left|right|middle> button at <x> <y>`.
 */
#include "keymap.h"
#include "ktest.h"
#include "shell.h"

struct input_state {
    struct kdev *k;
    struct lvio_input in;
    struct keymap km;
    struct shell_term term;   /* a keyboard's */
    char term_name[32];
    /* A pointer's motion since the last EV_SYN. */
    bool abs_x, abs_y;
    int32_t x, y;             /* tablet: the axes' last values */
    int64_t dx, dy;           /* mouse: summed deltas */
};

static struct input_state *input_of(struct kdev *k)
{
    return k->drv;
}

/* The device's name made printable for the serial line. */
static void printable(char *out, size_t size, const char *s)
{
    size_t i = 0;

    for (; s[i] && i + 1 < size; i++)
        out[i] = s[i] >= ' ' && s[i] < 0x7f && s[i] != '"' ? s[i] : '?';
    out[i] = '\0';
}

/* Position `v` of an axis [min, max] on a screen of `size` pixels. */
static int64_t scale(int32_t v, const struct lvio_input_absinfo *a, unsigned size)
{
    int64_t span = (int64_t)a->max - a->min;

    if (span <= 0 || size == 0)
        return 0;
    return ((int64_t)v - a->min) * (int64_t)(size - 1) / span;
}

static const char *button_name(uint16_t code)
{
    switch (code) {
    case LVIO_BTN_LEFT: return "left";
    case LVIO_BTN_RIGHT: return "right";
    case LVIO_BTN_MIDDLE: return "middle";
    case LVIO_BTN_TOUCH: return "touch";
    default: return NULL;
    }
}

/* EV_SYN: the motion since the last one becomes the pointer's. */
static void pointer_sync(struct input_state *st)
{
    unsigned x, y, w, h;

    if (!gpu_pointer(&x, &y) || !gpu_screen_size(&w, &h)) {
        st->abs_x = st->abs_y = false;
        st->dx = st->dy = 0;
        return;
    }
    if (st->abs_x || st->abs_y) {
        const struct lvio_input_absinfo *ax = lvio_input_abs(&st->in, LVIO_ABS_X);
        const struct lvio_input_absinfo *ay = lvio_input_abs(&st->in, LVIO_ABS_Y);
        int64_t nx = st->abs_x && ax ? scale(st->x, ax, w) : x;
        int64_t ny = st->abs_y && ay ? scale(st->y, ay, h) : y;
        gpu_pointer_set(nx, ny);
    } else if (st->dx || st->dy) {
        gpu_pointer_set((int64_t)x + st->dx, (int64_t)y + st->dy);
    }
    st->abs_x = st->abs_y = false;
    st->dx = st->dy = 0;
}

static void key(struct input_state *st, const struct lvio_input_event *ev)
{
    const char *button = button_name(ev->code);
    bool caps_changed;
    unsigned x, y;

    if (button) {
        if (ev->value == 1 && gpu_pointer(&x, &y))
            shell_notice("levitate: input %s: %s button at %u %u\n", st->k->dev.name, button, x, y);
        return;
    }
    int c = keymap_key(&st->km, ev->code, ev->value, &caps_changed);
    if (caps_changed && st->in.leds_usable) {
        int rc = lvio_input_set_led(&st->in, LVIO_LED_CAPSL, st->km.caps_lock);
        if (rc != LVIO_OK)
            shell_notice("levitate: input %s: Caps Lock LED: %s\n", st->k->dev.name,
                    lvio_errname(rc));
    }
    if (c >= 0 && st->term.write) /* only a keyboard has a terminal */
        shell_input(&st->term, (char)c);
}

static void idle_input(struct kdev *k)
{
    struct input_state *st = input_of(k);
    struct lvio_input_event ev;
    int rc;

    if (!st->in.up)
        return;
    rc = lvio_input_poll(&st->in, kdev_take_isr(k));
    if (rc < 0 && rc != LVIO_E_CONFIG) {
        shell_notice("lvio: input %s: error %s polling: %s\n", k->dev.name, lvio_errname(rc),
                lvio_device_error(&k->dev));
        lvio_input_teardown(&st->in);
        return;
    }
    while (lvio_input_next(&st->in, &ev)) {
        switch (ev.type) {
        case LVIO_EV_KEY:
            key(st, &ev);
            break;
        case LVIO_EV_REL:
            if (ev.code == LVIO_REL_X)
                st->dx += ev.value;
            else if (ev.code == LVIO_REL_Y)
                st->dy += ev.value;
            break;
        case LVIO_EV_ABS:
            if (ev.code == LVIO_ABS_X)
                st->x = ev.value, st->abs_x = true;
            else if (ev.code == LVIO_ABS_Y)
                st->y = ev.value, st->abs_y = true;
            break;
        case LVIO_EV_SYN:
            if (ev.code == LVIO_SYN_REPORT)
                pointer_sync(st);
            break;
        default:
            break;
        }
    }
}

/* What the ok line says after the kind: the axes' ranges, the LEDs. */
static void describe(const struct lvio_input *in, char *out, size_t size)
{
    const struct lvio_input_absinfo *ax = lvio_input_abs(in, LVIO_ABS_X);
    const struct lvio_input_absinfo *ay = lvio_input_abs(in, LVIO_ABS_Y);
    size_t used = 0;

    out[0] = '\0';
    if (ax && ay)
        used += (size_t)ksnprintf(out + used, size - used, "x %d..%d, y %d..%d, ",
                                  (int)ax->min, (int)ax->max, (int)ay->min, (int)ay->max);
    if (used < size && in->kind == LVIO_INPUT_KEYBOARD)
        used += (size_t)ksnprintf(out + used, size - used, "leds %s, ",
                                  in->leds_usable ? "on" : "off");
    if (used < size && in->has_ids)
        ksnprintf(out + used, size - used, "ids %04x:%04x:%04x:%04x, ", in->ids.bustype,
                  in->ids.vendor, in->ids.product, in->ids.version);
}

static int input_up(struct kdev *k)
{
    struct input_state *state = k->drv;

    return lvio_input_init(&state->in, &k->dev);
}

static void input_down(struct kdev *k)
{
    struct input_state *state = k->drv;

    lvio_input_teardown(&state->in);
}

static void run_input(struct kdev *k)
{
    struct input_state *st = kdev_state(k, sizeof *st);
    char name[LVIO_INPUT_STRING_MAX + 1], more[120], how[24];
    int rc;

    if (!st)
        return; /* said by kdev_state */
    st->k = k;
    rc = kdev_up_twice(k, input_up, input_down); /* every page back between */
    if (!expect(rc == LVIO_OK, "%s: input init: %s", k->dev.name, lvio_errname(rc))) {
        report_error(k, lvio_errname(rc), "initialising");
        k->drv = NULL;
        return;
    }
    /* The status queue: Caps Lock's LED on and off again. */
    if (st->in.leds_usable) {
        rc = lvio_input_set_led(&st->in, LVIO_LED_CAPSL, true);
        expect(rc == LVIO_OK, "%s: Caps Lock LED on: %s", k->dev.name, lvio_errname(rc));
        lvio_input_poll(&st->in, kdev_take_isr(k));
        rc = lvio_input_set_led(&st->in, LVIO_LED_CAPSL, false);
        expect(rc == LVIO_OK, "%s: Caps Lock LED off: %s", k->dev.name, lvio_errname(rc));
    }
    if (st->in.kind == LVIO_INPUT_KEYBOARD) {
        ksnprintf(st->term_name, sizeof st->term_name, "keyboard %s", k->dev.name);
        shell_term_init(&st->term, st->term_name, shell_console_write, NULL);
    }
    printable(name, sizeof name, st->in.name);
    describe(&st->in, more, sizeof more);
    kprintf("lvio: input %s: ok v%u, \"%s\", %s, %s%s\n", k->dev.name, (unsigned)k->dev.version,
            name, lvio_input_kind_name(st->in.kind), more, kdev_service(k, how, sizeof how));
    if (opt_dump)
        lvio_dump(&k->dev);
}

const struct kdriver kdriver_input = {
    .device_id = LVIO_VIRTIO_ID_INPUT, .name = "input",
    .run = run_input, .idle = idle_input,
};
