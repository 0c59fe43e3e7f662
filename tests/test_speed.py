"""benchmarks/speed.py through its real command line, on budgets too short to time anything:
that every row runs and the ratios are printed."""

import re
import subprocess
import sys

from benchmarks.common import ROOT


def test_ddpg_comparison_prints_every_row_the_ratio_and_the_ceiling():
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.speed", "--algorithm", "ddpg", "--steps", "1100", "--repeats", "1",
         "--vector-envs", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    for row in ("algozoo ddpg.py", "stable-baselines3 DDPG", "ddpg.py gradient steps alone"):
        # name, torch threads, median SPS, the one run's SPS
        assert re.search(rf"^{re.escape(row)} +\d+ +(\d+) +\1$", result.stdout, re.MULTILINE), result.stdout
    ratio = re.search(r"^ratio ddpg.py / stable-baselines3 \(one env\): (\d+\.\d+)x$", result.stdout, re.MULTILINE)
    ceiling = re.search(r"^ceiling: ddpg.py's gradient steps alone / stable-baselines3: (\d+\.\d+)x$",
                        result.stdout, re.MULTILINE)
    assert ratio and float(ratio.group(1)) > 0, result.stdout
    assert ceiling and float(ceiling.group(1)) > 0, result.stdout
