"""The CMMP paper's Table 1 variants (fusion x objective), apart from the network so that the table command
imports no torch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    name: str  # as in the paper's Table 1
    fusion: str  # CMMPNet fusion
    adversarial: bool  # AL (Eq. 4-5) or plain cross-entropy L_a + L_m


# Keyed by the slug used in file names and in the config (cmmp.variants); in Table 1's row order.
VARIANTS = {
    "sum": Variant("SUM", "sum", False),
    "max": Variant("MAX", "max", False),
    "cmmp-noal": Variant("CMMP+noAL", "cmmp", False),
    "sum-al": Variant("SUM+AL", "sum", True),
    "max-al": Variant("MAX+AL", "max", True),
    "cmmp": Variant("CMMP", "cmmp", True),
}
