/* Simulator harness (simavr): runs the model on the texts of "tinydetect_texts.h" (in flash) and prints,
 * per text, over the UART: "text <index> <logit> <cycles> <stack bytes>". Cycles come from Timer1 at the
 * CPU clock (overflows counted); stack bytes from painting the free RAM before td_finish/td_feed and
 * finding the deepest byte overwritten. Ends with "done", then sleeps with interrupts off (simavr exits). */
#include <avr/interrupt.h>
#include <avr/io.h>
#include <avr/pgmspace.h>
#include <avr/sleep.h>
#include <stdio.h>
#include <string.h>

#include "avr_uart.h"
#include "tinydetect_mcu.h"
#include "tinydetect_texts.h"

#define PAINT 0xA5

extern uint8_t __heap_start;
static volatile uint16_t overflows;
static td_state state;

ISR(TIMER1_OVF_vect) { overflows++; }

/* Paint from the end of static data up to just below this frame; returns the painted top. */
static uint8_t *paint_stack(void) {
  uint8_t marker;
  uint8_t *top = &marker - 16;
  for (uint8_t *byte = &__heap_start; byte < top; byte++) *byte = PAINT;
  return top;
}

static uint16_t stack_used(const uint8_t *top) {
  const uint8_t *byte = &__heap_start;
  while (byte < top && *byte == PAINT) byte++;
  return (uint16_t)(RAMEND + 1 - (uint16_t)byte);
}

static uint32_t cycles_now(void) {
  uint8_t flags = SREG;
  cli();
  uint16_t low = TCNT1;
  uint16_t high = overflows;
  if ((TIFR1 & _BV(TOV1)) && low < 0x8000) high++;  /* an overflow not yet served */
  SREG = flags;
  return (uint32_t)high << 16 | low;
}

int main(void) {
  UCSR0B = _BV(TXEN0);
  stdout = &uart;
  TCCR1A = 0;
  TIMSK1 = _BV(TOIE1);
  TCCR1B = _BV(CS10);  /* Timer1 counts CPU cycles */
  sei();
  for (uint16_t text = 0; text < TD_TEXTS; text++) {
    uint16_t begin = TD_U16(td_text_offsets, text);
    uint16_t end = TD_U16(td_text_offsets, text + 1);
    uint8_t *top = paint_stack();
    uint32_t start = cycles_now();
    td_begin(&state);
    for (uint16_t index = begin; index < end; index++) td_feed(&state, TD_U8(td_texts, index));
    td_output logit = td_finish(&state);
    uint32_t cycles = cycles_now() - start;
    uint16_t stack = stack_used(top);
#if TD_WEIGHT_BITS == 0
    uint32_t bits;
    memcpy(&bits, &logit, sizeof(bits));
    printf("text %u %08lx %lu %u\n", text, (unsigned long)bits, (unsigned long)cycles, stack);
#else
    printf("text %u %ld %lu %u\n", text, (long)logit, (unsigned long)cycles, stack);
#endif
  }
  printf("done\n");
  cli();
  sleep_cpu();
  return 0;
}
