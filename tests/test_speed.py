"""benchmarks/speed.py through its real command line, on budgets too short to time anything:
that every row runs and the ratios are printed."""

import re
import subprocess
import sys

import pytest

from benchmarks.common import ROOT

# algorithm: (env steps a run, the rows of its table, what its ceiling line names)
COMPARISONS = {
    # 500 steps past dqn's learning start: 50 gradient steps
    "dqn": ("10500", ("algozoo dqn.py", "stable-baselines3 DQN", "dqn.py without gradient steps",
                      "dqn.py gradient steps alone"), "dqn.py without gradient steps plus its gradient steps alone"),
    "ddpg": ("1100", ("algozoo ddpg.py", "stable-baselines3 DDPG", "ddpg.py gradient steps alone"),
             "ddpg.py's gradient steps alone"),
    # 100 steps past learning start: 25 gradient steps on the Nature CNN; no ceiling is computed
    "dqn_atari": ("2100", ("algozoo dqn_atari.py", "stable-baselines3 DQN"), None),
}


@pytest.mark.parametrize("algorithm", COMPARISONS)
def test_comparison_prints_every_row_the_ratio_and_the_ceiling(algorithm):
    steps, rows, ceiling_name = COMPARISONS[algorithm]
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.speed", "--algorithm", algorithm, "--steps", steps, "--repeats", "1",
         "--vector-envs", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    for row in rows:
        # name, torch threads, median SPS, the one run's SPS
        assert re.search(rf"^{re.escape(row)} +\d+ +(\d+) +\1$", result.stdout, re.MULTILINE), result.stdout
    ratio = re.search(rf"^ratio {algorithm}.py / stable-baselines3 \(one env\): (\d+\.\d+)x$", result.stdout, re.MULTILINE)
    ceiling = re.search(rf"^ceiling: {re.escape(ceiling_name or '')} / stable-baselines3: (\d+\.\d+)x$",
                        result.stdout, re.MULTILINE)
    assert ratio and float(ratio.group(1)) > 0, result.stdout
    assert (ceiling and float(ceiling.group(1)) > 0) if ceiling_name else "ceiling" not in result.stdout, result.stdout


def test_atari_envs_times_every_vector_env_it_finds():
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.atari_envs", "--num-envs", "2", "--steps", "20", "--repeats", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    names = ["gymnasium SyncVectorEnv", "gymnasium AsyncVectorEnv", "ale-py AtariVectorEnv"]
    for name in names:
        # copies, name, median copy-steps per second, its ratio to Sync, the one timing
        assert re.search(rf"^  2 copies  {re.escape(name)} +(\d+)  \(\d+\.\d\d× Sync\)   \1$", result.stdout,
                         re.MULTILINE), result.stdout
