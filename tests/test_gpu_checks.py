"""benchmarks/gpu_checks.py's command line: what it refuses before it runs anything (its checks
themselves need a GPU; `--device cpu --quick` runs them small, by hand)."""

import pytest
import torch

from benchmarks import gpu_checks

NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")


@pytest.mark.parametrize("options, message", [
    ({"device": "cpu", "only": ("tests", "speed")}, "--only speed: choose from tests, batched_speed"),
    pytest.param({"device": "cuda:0"}, "--device cuda:0: no CUDA device here", marks=NO_CUDA),
])
def test_bad_input_gets_one_line_and_status_2_and_writes_nothing(tmp_path, capsys, options, message):
    out = tmp_path / "out"
    assert gpu_checks.main(gpu_checks.Args(out=str(out), **options)) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert message in line and not out.exists()


def test_an_existing_output_folder_is_refused(tmp_path, capsys):
    assert gpu_checks.main(gpu_checks.Args(out=str(tmp_path), device="cpu")) == 2
    assert f"--out {tmp_path} exists" in capsys.readouterr().err
