/*
 * The kernel's shell (shell.c): a prompt `levitate> `, a line editor and the
 * commands of docs/design.md ("The shell"). It has no input of its own: each
 * source of typed characters (the serial line, a keyboard, a virtio-console
 * port) owns a terminal, feeds it characters, and says where its output
 * goes. Everything runs from the kernel's main loop, never from an
 * interrupt handler.
 */
#ifndef KERNEL_SHELL_H
#define KERNEL_SHELL_H

#include "kernel.h"

#define SHELL_LINE 160 /* characters of a command line, more are refused */
#define SHELL_ARGS 8

struct shell_term {
    const char *name; /* "serial", "keyboard", a console port's name */
    void (*write)(void *ctx, const char *s, size_t n);
    void *ctx;
    char line[SHELL_LINE];
    size_t len;
    bool after_cr; /* the last character was '\r': a '\n' next is the same Enter */
    bool prompted; /* a prompt has been shown: the shell is up on it */
};

/* A terminal whose output goes to write(ctx, ...); no prompt yet. */
void shell_term_init(struct shell_term *t, const char *name,
                     void (*write)(void *ctx, const char *s, size_t n), void *ctx);
void shell_prompt(struct shell_term *t);
/* One typed character: printable ones are echoed and kept, Backspace (or
 * DEL) takes one back, Ctrl-C abandons the line, Enter runs it. */
void shell_input(struct shell_term *t, char c);
/* Run one command line as if typed (it is changed: split into words). */
void shell_run(struct shell_term *t, char *line);
__attribute__((format(printf, 2, 3))) void shell_printf(struct shell_term *t, const char *fmt,
                                                        ...);

/* The serial line's terminal: output through the console (the serial line
 * and the screen's console); shell_serial_poll takes what was received. */
struct shell_term *shell_serial(void);
void shell_serial_poll(void);

/* A line of the kernel's own that comes while the shell waits (a button
 * pressed, a port added): on a line of its own, then the serial line's
 * prompt and what was typed so far, again. */
__attribute__((format(printf, 1, 2))) void shell_notice(const char *fmt, ...);

/* Output for terminals that print like kprintf: the serial line and the
 * screen's console (a keyboard's terminal uses it too). */
void shell_console_write(void *ctx, const char *s, size_t n);

#endif
