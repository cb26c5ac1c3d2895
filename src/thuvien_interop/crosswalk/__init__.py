"""Record formats and text hygiene: pure functions, no I/O."""
