import pytest


@pytest.fixture(autouse=True)
def _one_thread(single_thread):
    """Every model test on one intra-op thread (tests/conftest.py: single_thread)."""
