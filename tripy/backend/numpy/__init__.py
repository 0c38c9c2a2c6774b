"""The reference backend: every primitive on NumPy arrays, on any machine."""
