"""The algorithm files read algorithm first: `train()` is short, and everything that is not the
algorithm lies below one banner, so that the part above it stays a few screenfuls."""

import ast

import pytest

from benchmarks.common import ALGOS

BANNER = "# ==== bookkeeping: nothing below this line is the algorithm"
MAX_TRAIN_LINES = 70
# per algorithm file: about 250 lines; ddpg.py's two networks, two losses, two steps and two kinds of noise take a
# few more, and dqn_atari.py's Atari preprocessing and replay buffer of single frames a hundred more
MAX_LINES_ABOVE_BANNER = {"value_iteration": 255, "q_table": 255, "deep_q_table": 255, "dqn": 255, "double_dqn": 255,
                          "dueling_dqn": 255, "ddpg": 260, "reinforce": 255, "dqn_atari": 365}


def layout(name: str) -> tuple[int, int, int]:
    """(the banner's line, train()'s first line, train()'s length in lines) of algos/{name}.py."""
    source = (ALGOS / f"{name}.py").read_text()
    banner = next(number for number, line in enumerate(source.splitlines(), 1) if line.startswith(BANNER))
    train = next(node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef) and node.name == "train")
    return banner, train.lineno, train.end_lineno - train.lineno + 1


@pytest.mark.parametrize("name", MAX_LINES_ABOVE_BANNER)
def test_train_is_short_and_above_the_banner_with_the_algorithm(name):
    banner, train_line, train_lines = layout(name)
    assert train_lines <= MAX_TRAIN_LINES, f"{name}.py's train() has {train_lines} lines"
    assert train_line < banner <= MAX_LINES_ABOVE_BANNER[name] + 1, f"{name}.py's banner is on line {banner}"


def test_every_algorithm_file_has_its_bound():
    assert sorted(MAX_LINES_ABOVE_BANNER) == sorted(path.stem for path in ALGOS.glob("*.py"))


@pytest.mark.parametrize("name", MAX_LINES_ABOVE_BANNER)
def test_every_option_has_its_help_text(name):
    """tyro's --help text of an Args field is its trailing comment, or the string on the line after it."""
    source = (ALGOS / f"{name}.py").read_text()
    lines = source.splitlines()
    args = next(node for node in ast.parse(source).body if isinstance(node, ast.ClassDef) and node.name == "Args")
    for field, following in zip(args.body, [*args.body[1:], None]):
        if not isinstance(field, ast.AnnAssign):
            continue
        comment = lines[field.end_lineno - 1][field.end_col_offset:].strip().removeprefix("#").strip()
        docstring = (isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                     and following.lineno == field.end_lineno + 1)
        assert comment or docstring, f"{name}.py's option {field.target.id} has no help text"
