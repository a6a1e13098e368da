/*
 * The console's UART on x86_64 (the console itself: kernel/console.c):
 * COM1, an NS16550 (kernel/ns16550.c) at I/O port 0x3f8. The firmware
 * (SeaBIOS, qboot) has set the line up.
 */
#include "internal.h"
#include "ns16550.h"
#include "x86.h"

static uint16_t uart_port;

static uint8_t port_read8(unsigned reg)
{
    return inb((uint16_t)(uart_port + reg));
}

static void port_write8(unsigned reg, uint8_t value)
{
    outb((uint16_t)(uart_port + reg), value);
}

static const struct ns16550 uart = {port_read8, port_write8, 100000};

bool arch_uart_init(uint64_t port)
{
    uart_port = (uint16_t)port;
    return uart_port != 0;
}

void arch_uart_tx(char c)
{
    ns16550_tx(&uart, c);
}

int arch_uart_rx(void)
{
    return ns16550_rx(&uart);
}
