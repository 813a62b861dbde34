"""What every other part stands on: validated params, user-facing errors, atomic file I/O, the input record."""
