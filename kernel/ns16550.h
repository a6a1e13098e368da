/*
 * An NS16550-compatible UART's transmitter, polled: riscv64's (memory
 * mapped, `reg-shift` apart) and x86_64's COM1 (I/O ports). The firmware
 * has set the line up; each character waits for the transmit holding
 * register to empty, bounded so that a broken UART cannot hang a panic
 * report, then is written.
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

#endif
