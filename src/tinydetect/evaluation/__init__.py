"""How good, how fast and how faithful: metrics, parity, slices, the baseline, plots, latency, model card, review report."""
