import pytest

from benchmarks.common import load_algorithm


@pytest.fixture(scope="session")
def dqn():
    return load_algorithm("dqn")
