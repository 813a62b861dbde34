"""The detector itself: the SentencePiece tokenizer, the BERT classifier and its training recipe."""
