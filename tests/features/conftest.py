import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Tiny tensors gain nothing from threads; on a shared 2-core machine they only wait on each other."""
