import pytest
import torch


@pytest.fixture(autouse=True)
def single_thread():
    """Run model tests on one intra-op thread: on a shared 2-core machine two threads contend and run ~50x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
