"""benchmarks/showcase.py: every agent of the gallery names a cell of the classic suite, and an
unknown agent is one line and exit status 2."""

from benchmarks import showcase
from benchmarks.sweep_grid import read_suite


def test_every_agent_trains_on_a_suite_cell():
    _, suite = read_suite("classic")
    for script, env_id in showcase.AGENTS.values():
        assert env_id in suite[script], f"{script}.{env_id} is not in the classic suite"


def test_an_unknown_agent_is_one_line_and_exit_status_2(capsys):
    assert showcase.main(showcase.Args(agents=("cartpole_dqn", "no_such_agent"))) == 2
    assert capsys.readouterr().err.strip() == ("showcase: error: unknown agent no_such_agent; known: "
                                               + ", ".join(showcase.AGENTS))
