"""Backend and device selection: ``get_backend(name, device)``."""

from __future__ import annotations

import pytest
import torch

from twostream.flow import get_backend, resolve_device
from twostream.flow.tvl1 import compile_available

NO_GPU = not torch.cuda.is_available()


@pytest.mark.parametrize("name", ["torch", "opencv-cpu"])
def test_named_cpu_backends(name):
    backend = get_backend(name, "cpu", "cuda")
    assert backend.name == name


def test_torch_backend_runs_on_the_resolved_device():
    assert get_backend("torch", "cpu", "cpu").device == torch.device("cpu")


def test_the_torch_backend_needs_a_variant():
    """No default for the variant outside the schema (flow.variant)."""
    with pytest.raises(ValueError, match="needs a variant"):
        get_backend("torch", "cpu")


@pytest.mark.skipif(not NO_GPU, reason="a GPU is visible")
def test_auto_on_cpu_picks_the_measured_fastest_cpu_backend():
    expected = "torch" if compile_available(torch.device("cpu")) else "opencv-cpu"
    assert get_backend("auto", "auto", "cuda").name == expected
    assert get_backend(variant="cuda").name == expected


@pytest.mark.skipif(NO_GPU, reason="no CUDA device visible to torch")
def test_auto_with_a_gpu_picks_torch_on_cuda():
    backend = get_backend("auto", "auto", "cuda")
    assert backend.name == "torch" and backend.device.type == "cuda"


def test_resolve_device():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cpu" if NO_GPU else "cuda:0")
    assert resolve_device(None) == resolve_device("auto")


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "CPU", "cuda:"])
def test_unknown_device_names_are_rejected(device):
    with pytest.raises(ValueError, match="unknown device"):
        get_backend("torch", device, "cuda")


def test_unknown_backend_is_rejected():
    with pytest.raises(ValueError, match="unknown flow backend 'farneback'; choose from auto, torch"):
        get_backend("farneback", "cpu")


@pytest.mark.skipif(not NO_GPU, reason="a GPU is visible")
def test_cuda_without_a_gpu_is_rejected():
    with pytest.raises(ValueError, match="torch sees 0 CUDA device"):
        get_backend("torch", "cuda:0", "cuda")


def test_opencv_backends_refuse_the_wrong_device():
    with pytest.raises(ValueError, match="opencv-cpu runs on the CPU only"):
        get_backend("opencv-cpu", "cuda:7")
    with pytest.raises(ValueError, match="opencv-cuda runs on CUDA only"):
        get_backend("opencv-cuda", "cpu")
