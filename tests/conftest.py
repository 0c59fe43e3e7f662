import pytest

from benchmarks.common import load_algorithm

DQN_FAMILY = ["dqn", "double_dqn", "dueling_dqn"]


@pytest.fixture(scope="session")
def dqn():
    return load_algorithm("dqn")


@pytest.fixture(scope="session")
def double_dqn():
    return load_algorithm("double_dqn")


@pytest.fixture(scope="session")
def dueling_dqn():
    return load_algorithm("dueling_dqn")


@pytest.fixture(scope="session")
def value_iteration():
    return load_algorithm("value_iteration")


@pytest.fixture(scope="session")
def q_table():
    return load_algorithm("q_table")


@pytest.fixture(scope="session")
def deep_q_table():
    return load_algorithm("deep_q_table")


@pytest.fixture(params=DQN_FAMILY)
def dqn_family(request):
    """Each of the DQN-family scripts as a module, one test run each."""
    return load_algorithm(request.param)


@pytest.fixture(scope="session")
def dqn_atari():
    return load_algorithm("dqn_atari")


@pytest.fixture(scope="session")
def reinforce():
    return load_algorithm("reinforce")


@pytest.fixture(scope="session")
def ddpg():
    return load_algorithm("ddpg")
