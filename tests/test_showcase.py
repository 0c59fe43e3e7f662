"""benchmarks/showcase.py: every agent of the gallery names a suite cell, and bad input is one
line and exit status 2."""

from benchmarks import showcase
from benchmarks.sweep_grid import read_suite


def test_every_agent_trains_on_a_suite_cell():
    for script, env_id in showcase.AGENTS.values():
        _, suite = read_suite(showcase.suite_of(script))
        assert env_id in suite[script], f"{script}.{env_id} is not in the {showcase.suite_of(script)} suite"


def test_an_unknown_agent_is_one_line_and_exit_status_2(capsys):
    assert showcase.main(showcase.Args(agents=("cartpole_dqn", "no_such_agent"))) == 2
    assert capsys.readouterr().err.strip() == ("showcase: error: unknown agent no_such_agent; known: "
                                               + ", ".join(showcase.AGENTS))


def test_a_video_for_several_agents_is_one_line_and_exit_status_2(capsys):
    assert showcase.main(showcase.Args(agents=("cartpole_dqn", "acrobot_dqn"), video="clip.mp4")) == 2
    assert capsys.readouterr().err.strip() == "showcase: error: --video films one agent: name it with --agents"
