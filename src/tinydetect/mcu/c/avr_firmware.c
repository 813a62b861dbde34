/* The deployable firmware, as an Arduino UNO sketch would be: texts arrive on the serial port (9600 baud
 * at 16 MHz), each ended by a NUL byte; the answer goes back as "AI <logit>" or "HUMAN <logit>".
 * `avr-size` of this build is the flash and static RAM docs/mcu.md reports. */
#include <avr/io.h>
#include <stdio.h>

#include "avr_uart.h"
#include "tinydetect_mcu.h"

#define BAUD_PRESCALE (F_CPU / 16 / 9600 - 1)

static td_state state;

static uint8_t uart_get(void) {
  loop_until_bit_is_set(UCSR0A, RXC0);
  return UDR0;
}

int main(void) {
  UBRR0H = (uint8_t)(BAUD_PRESCALE >> 8);
  UBRR0L = (uint8_t)BAUD_PRESCALE;
  UCSR0B = _BV(RXEN0) | _BV(TXEN0);
  stdout = &uart;
  for (;;) {
    td_begin(&state);
    for (uint8_t byte = uart_get(); byte != 0; byte = uart_get()) td_feed(&state, byte);
    td_output logit = td_finish(&state);
#if TD_WEIGHT_BITS == 0
    printf("%s %ld\n", td_is_ai(logit) ? "AI" : "HUMAN", (long)(logit * 256));
#else
    printf("%s %ld\n", td_is_ai(logit) ? "AI" : "HUMAN", (long)logit);
#endif
  }
}
