/* Streaming hashed n-grams and the MLP. No heap; floating point only in float exports (TD_WEIGHT_BITS 0).
 * Mirrors tinydetect/mcu/features.py and integer.py operation for operation: tests compare outputs bit
 * for bit. Right shifts of negative int32 are arithmetic (floor) in gcc and avr-gcc, as in Python. */
#include <string.h>

#include "tinydetect_mcu.h"

#define TD_FNV_OFFSET 2166136261UL
#define TD_FNV_PRIME 16777619UL
#define TD_REMOVED 0xFFFFFFFFUL
#define TD_REPLACEMENT 0xFFFDUL

/* Whether code_point lies in a sorted table of (first, last) ranges; the scan stops at the first range
 * above it, so ASCII looks at two or three ranges. A macro, as far flash reads need the table's name. */
#define TD_RANGE_LOOKUP(name, table, ranges)                              \
  static uint8_t name(uint32_t code_point) {                              \
    for (uint8_t range = 0; range < (ranges); range++) {                  \
      if (code_point < TD_U32(table, 2 * range)) return 0;                \
      if (code_point <= TD_U32(table, 2 * range + 1)) return 1;           \
    }                                                                     \
    return 0;                                                             \
  }
TD_RANGE_LOOKUP(td_is_removed, td_removed_ranges, TD_REMOVED_RANGES)
TD_RANGE_LOOKUP(td_is_space, td_space_ranges, TD_SPACE_RANGES)

static uint32_t td_normalize(uint32_t code_point) {
  if (code_point >= 'A' && code_point <= 'Z') return code_point + 32;
  if (td_is_removed(code_point)) return TD_REMOVED;
  if (td_is_space(code_point)) return ' ';
  return code_point;
}

static void td_count_window(td_state *state) {
  uint32_t hash = TD_FNV_OFFSET;
  for (uint8_t position = 0; position < TD_NGRAM; position++) {
    uint32_t code_point = state->window[position];
    for (uint8_t byte = 0; byte < 3; byte++) {
      hash = (hash ^ (uint8_t)(code_point >> (8 * byte))) * TD_FNV_PRIME;
    }
  }
  uint16_t bucket = (uint16_t)(hash % TD_BUCKETS);
  if (state->counts[bucket] != 0xFFFF) state->counts[bucket]++;
  state->windows++;
}

static void td_emit(td_state *state, uint32_t code_point) {
  if (code_point == TD_REMOVED) return;
  uint8_t is_space = code_point == ' ';
  if (is_space && state->last_was_space) return;  /* runs of spaces count once */
  state->last_was_space = is_space;
  memmove(state->window, state->window + 1, (TD_NGRAM - 1) * sizeof(state->window[0]));
  state->window[TD_NGRAM - 1] = code_point;
  if (state->filled < TD_NGRAM) state->filled++;
  if (state->filled == TD_NGRAM) td_count_window(state);
}

void td_begin(td_state *state) {
  memset(state, 0, sizeof(*state));
  td_emit(state, ' ');  /* the text starts after a space */
}

void td_feed(td_state *state, uint8_t byte) {
  if (state->pending && (byte & 0xC0) == 0x80) {  /* a continuation byte */
    state->code_point = (state->code_point << 6) | (byte & 0x3F);
    if (--state->pending == 0) td_emit(state, td_normalize(state->code_point));
    return;
  }
  if (state->pending) {  /* a sequence cut short: one replacement character, then this byte afresh */
    state->pending = 0;
    td_emit(state, TD_REPLACEMENT);
  }
  if (byte < 0x80) {
    td_emit(state, td_normalize(byte));
  } else if ((byte & 0xE0) == 0xC0) {
    state->code_point = byte & 0x1F; state->pending = 1;
  } else if ((byte & 0xF0) == 0xE0) {
    state->code_point = byte & 0x0F; state->pending = 2;
  } else if ((byte & 0xF8) == 0xF0) {
    state->code_point = byte & 0x07; state->pending = 3;
  } else {
    td_emit(state, TD_REPLACEMENT);
  }
}

/* counts -> feature bytes, in place: min(255, count * buckets * 16 / windows) */
static void td_features(td_state *state) {
  for (uint16_t bucket = 0; bucket < TD_BUCKETS; bucket++) {
    uint32_t scaled = state->windows
        ? (uint32_t)state->counts[bucket] * (TD_BUCKETS * 16UL) / state->windows : 0;
    state->counts[bucket] = scaled > 255 ? 255 : (uint16_t)scaled;
  }
}

#if TD_WEIGHT_BITS == 0
typedef float td_activation;

/* One float layer: outputs[i] = bias[i] + sum_j weight[i][j] * inputs[j], in that order. */
static td_output td_neuron(uint8_t layer, uint16_t neuron, const td_state *state, const td_activation *inputs) {
  uint16_t width = TD_WIDTH(layer);
  uint32_t row = TD_WEIGHT_OFFSET(layer) + (uint32_t)neuron * width;
  float sum = td_bias_at(TD_BIAS_OFFSET(layer) + neuron);
  for (uint16_t input = 0; input < width; input++) {
    float value = layer == 0 ? (float)state->counts[input] : inputs[input];
    sum += td_weights_at(row + input) * value;
  }
  return sum;
}

static float td_activate(float value) { return value > 0 ? value : 0; }
#else
typedef uint8_t td_activation;

#define TD_CODES_PER_BYTE (8 / TD_WEIGHT_BITS)
#define TD_CODE_MASK ((1 << TD_WEIGHT_BITS) - 1)

/* acc = sum_j level(code[row + j]) * input[j], with level {-1, 1} or {-3, -1, 1, 3} in units of the layer's
 * alpha; then the fixed-point step. Codes are unpacked from one flash byte at a time, lowest bits first. */
static td_output td_neuron(uint8_t layer, uint16_t neuron, const td_state *state, const td_activation *inputs) {
  uint16_t width = TD_WIDTH(layer);
  uint32_t element = TD_WEIGHT_OFFSET(layer) + (uint32_t)neuron * width;
  uint8_t packed = td_weights_at(element / TD_CODES_PER_BYTE) >> (TD_WEIGHT_BITS * (element % TD_CODES_PER_BYTE));
  int32_t accumulator = 0;
  for (uint16_t input = 0; input < width; input++, element++) {
    if (input && element % TD_CODES_PER_BYTE == 0) packed = td_weights_at(element / TD_CODES_PER_BYTE);
    uint8_t code = packed & TD_CODE_MASK;
    packed >>= TD_WEIGHT_BITS;
    int16_t value = layer == 0 ? (int16_t)state->counts[input] : inputs[input];
#if TD_WEIGHT_BITS == 1
    accumulator += code ? value : -value;
#else
    accumulator += (int16_t)((int8_t)(2 * code - 3) * value);
#endif
  }
  int32_t multiplier = (int32_t)TD_U32(td_multiplier, layer);
  uint8_t shift = TD_U8(td_shift, layer);
  int32_t rounding = shift ? (int32_t)1 << (shift - 1) : 0;
  return (accumulator * multiplier + td_bias_at(TD_BIAS_OFFSET(layer) + neuron) + rounding) >> shift;
}

/* ReLU and 8 bits in one clamp */
static uint8_t td_activate(int32_t value) { return value < 0 ? 0 : value > 255 ? 255 : (uint8_t)value; }
#endif

td_output td_finish(td_state *state) {
  td_emit(state, ' ');
  td_features(state);
  td_activation buffers[2][TD_MAX_WIDTH];
  td_output output = 0;
  for (uint8_t layer = 0; layer < TD_LAYERS; layer++) {
    const td_activation *inputs = buffers[layer % 2];
    td_activation *outputs = buffers[(layer + 1) % 2];
    for (uint16_t neuron = 0; neuron < TD_WIDTH(layer + 1); neuron++) {
      td_output value = td_neuron(layer, neuron, state, inputs);
      if (layer + 1 == TD_LAYERS) output = value;
      else outputs[neuron] = td_activate(value);
    }
  }
  return output;
}
