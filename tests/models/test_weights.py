"""ImageNet weights for offline nodes: the weights command fills the cache that training reads."""

from __future__ import annotations

import pytest
import torch
import torchvision

from twostream.cli import main
from twostream.models.streams import StreamNet, WeightsError, check_pretrained, imagenet_cache_path


def test_weights_command_fills_the_cache_that_training_reads(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "elsewhere"))
    reference = torchvision.models.resnet18().state_dict()
    fetched = []

    def fake_download(url, dst, hash_prefix=None, progress=True):
        """Stands in for the network: writes the file a download would write."""
        torch.save(reference, dst)
        fetched.append(url)

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    assert main(["weights", "--depth", "18", "--torch-home", str(tmp_path / "cache")]) == 0
    assert fetched and imagenet_cache_path(18).is_relative_to(tmp_path / "cache")
    check_pretrained(18, "imagenet")
    net = StreamNet(18, 10, num_classes=4, pretrained="imagenet", dropout=0.5)  # read from the cache, no network
    mean = reference["conv1.weight"].mean(dim=1, keepdim=True)
    assert torch.equal(net.backbone.conv1.weight, mean.expand(-1, 10, -1, -1))
    assert torch.equal(net.backbone.layer1[0].conv1.weight, reference["layer1.0.conv1.weight"])


def test_missing_weights_name_the_command(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightsError, match="twostream weights --depth 50"):
        check_pretrained(50, "imagenet")
    with pytest.raises(WeightsError, match="not found"):
        check_pretrained(50, str(tmp_path / "nope.pt"))
    check_pretrained(50, "none")
