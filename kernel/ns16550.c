/* An NS16550, polled (ns16550.h). */
#include "ns16550.h"

#define UART_THR 0 /* written: transmit holding register */
#define UART_RBR 0 /* read: receive buffer register */
#define UART_LSR 5
#define UART_LSR_DR 0x01   /* data ready: a received character is waiting */
#define UART_LSR_THRE 0x20 /* transmit holding register empty */

void ns16550_tx(const struct ns16550 *uart, char c)
{
    for (unsigned i = 0; i < uart->spin_limit; i++) {
        if (uart->read(UART_LSR) & UART_LSR_THRE)
            break;
    }
    uart->write(UART_THR, (uint8_t)c);
}

int ns16550_rx(const struct ns16550 *uart)
{
    if (!(uart->read(UART_LSR) & UART_LSR_DR))
        return -1;
    return uart->read(UART_RBR);
}
