"""twostream: a reproducible two-stream fusion pipeline (CMMP, CMA)."""

__version__ = "0.1.0"
