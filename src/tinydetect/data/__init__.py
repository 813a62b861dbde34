"""Where the labelled texts come from and how they are divided: the bundled demo data and the train/val/test split."""
