"""The microcontroller detector: hashed character n-grams into a small MLP, 2-bit and 1-bit, exported to C.

`features` (the n-gram hash, same in Python and C), `network` (training, pruning, quantization-aware
training), `integer` (the exact integer model and its reference), `codegen` (the C header), `toolchain`
(gcc, avr-gcc, avr-size, simavr).
"""
