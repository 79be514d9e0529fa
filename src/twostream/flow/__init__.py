"""Optical flow: backends behind one batched interface, clipping and .flo files."""

from __future__ import annotations

from twostream.flow.base import FlowBackend, normalize

BACKENDS = ("opencv-cpu",)


def get_backend(name: str = "opencv-cpu", device: str | None = None) -> FlowBackend:
    """Instantiate a flow backend by name."""
    if name in ("auto", "opencv-cpu"):
        from twostream.flow.opencv import OpenCVCPU

        return OpenCVCPU()
    raise ValueError(f"unknown flow backend {name!r}; choose from {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "FlowBackend", "get_backend", "normalize"]
