"""What the model ships decides: P(AI) from logits, the cut policies, the labels and their reasons. Below
`runtime`, `modeling` and `evaluation`, above `core` only: a scorer imports it without importing reporting."""
