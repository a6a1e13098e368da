/*
 * An NS16550-compatible UART, polled: riscv64's (memory mapped,
 * `reg-shift` apart) and x86_64's COM1 (I/O ports). The firmware has set
 * the line up; each character sent waits for the transmit holding register
 * to empty, bounded so that a broken UART cannot hang a panic report, then
 * is written; a character received is taken when the line status says one
 * is there (the shell's input).
 */
#ifndef KERNEL_NS16550_H
#define KERNEL_NS16550_H

#include <stdint.h>

/* How the architecture reaches the registers. */
struct ns16550 {
    uint8_t (*read)(unsigned reg); /* register `reg`, 0..7 */
    void (*write)(unsigned reg, uint8_t value);
    unsigned spin_limit;           /* line status reads before writing anyway */
};

void ns16550_tx(const struct ns16550 *uart, char c);
/* The next received character, or -1 when none is waiting. */
int ns16550_rx(const struct ns16550 *uart);

#endif
