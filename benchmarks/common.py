"""Helpers shared by the benchmark scripts and the tests."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
ALGOS = ROOT / "algos"


def load_algorithm(name: str) -> ModuleType:
    """Import algos/{name}.py as a module (algos/ is a folder of scripts, not a package)."""
    module_name = f"algozoo_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, ALGOS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
