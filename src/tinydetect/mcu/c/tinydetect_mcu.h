/* tinydetect on a microcontroller: is this text AI-written?
 *
 * Stream a text's UTF-8 bytes through td_feed() and read the AI logit from td_finish():
 *
 *     static td_state state;            // no heap: the caller owns the state (2 bytes per bucket)
 *     td_begin(&state);
 *     while (have_byte) td_feed(&state, next_byte);
 *     td_output logit = td_finish(&state);
 *     if (td_is_ai(logit)) ...
 *
 * The model (weights in flash, n-gram settings, threshold) comes from "tinydetect_model.h", written by
 * `python stages/mcu.py`. The hash and the normalization are documented in tinydetect/mcu/features.py;
 * the integer arithmetic in tinydetect/mcu/integer.py. */
#ifndef TINYDETECT_MCU_H
#define TINYDETECT_MCU_H

#include <stdint.h>

#include "tinydetect_model.h"

#if TD_WEIGHT_BITS == 0
typedef float td_output;    /* the AI logit */
#else
typedef int32_t td_output;  /* the AI logit in 256ths */
#endif

typedef struct {
  uint16_t counts[TD_BUCKETS];  /* n-gram windows per bucket (saturating); the features, after td_finish */
  uint32_t windows;             /* n-gram windows seen */
  uint32_t window[TD_NGRAM];    /* the last TD_NGRAM normalized code points */
  uint8_t filled;               /* code points in window, up to TD_NGRAM */
  uint8_t last_was_space;
  uint8_t pending;              /* UTF-8 continuation bytes still expected */
  uint32_t code_point;          /* the code point being decoded */
} td_state;

void td_begin(td_state *state);
void td_feed(td_state *state, uint8_t byte);
td_output td_finish(td_state *state);

static inline uint8_t td_is_ai(td_output logit) { return logit > TD_THRESHOLD; }

#endif
