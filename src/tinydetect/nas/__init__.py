"""AutoTinyBERT (Yin et al., ACL 2021): the detector's shape found under a latency budget instead of fixed by hand.

`space` (sub-network shapes, sampling, mutation, crossover, the predictor's encoding), `supernet` (one set of
weights every sub-network shares, its sandwich-rule training, extraction), `latency` (sub-networks timed as ONNX
INT8 here and the predictor fitted on them), `search` (random and evolutionary search under the budget).
"""
