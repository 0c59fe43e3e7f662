"""What a sweep (benchmarks/sweep.py) keeps and shows as it goes: OUT/sweep.json, the record of
every cell, and the progress line."""

import importlib.metadata
import json
import os
import platform
import sys
import time
from pathlib import Path

from benchmarks.sweep_grid import Args, Cell


# ---- the record: sweep.json --------------------------------------------------------------


def write_json_atomically(path: Path, data: dict) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(data, indent=2))
    os.replace(temporary, path)


def machine(args: Args) -> dict:
    cpu = platform.processor()
    if Path("/proc/cpuinfo").exists():
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    return {"platform": platform.platform(), "cpu": cpu, "cpu_count": os.cpu_count(),
            "python": platform.python_version(), "torch": importlib.metadata.version("torch"),
            "backend": args.backend, "workers": args.workers, "device": args.device}


class Record:
    """OUT/sweep.json: the sweep's cells and what became of each."""

    def __init__(self, out: Path, args: Args, invocation: str, suite_name: str | None, description: str,
                 cells: list[Cell], commands: dict[str, str]):
        """commands: each cell's key -> the command line of the process that runs it."""
        self.path = out / "sweep.json"
        earlier = {}
        if self.path.exists():
            earlier = {(c["algo"], c["env_id"], c["seed"]): c for c in json.loads(self.path.read_text())["cells"]}
        self.data = {"suite": suite_name, "description": description, "command": invocation,
                     "machine": machine(args)}
        self.cells: dict[str, dict] = {}
        current: dict[tuple[str, str, int], dict] = {}
        for cell in cells:
            before = earlier.get((cell.algo, cell.env_id, cell.seed), {})
            entry = {"algo": cell.algo, "env_id": cell.env_id, "seed": cell.seed, "reference": cell.reference,
                     "threshold": cell.threshold, "folder": str(cell.folder(out).relative_to(out)),
                     "command": commands[cell.key], "status": "pending",
                     "exit_code": None, "log_tail": "", "wall_seconds": before.get("wall_seconds"),
                     "attempts": before.get("attempts", 0)}
            self.cells[cell.key] = current[cell.algo, cell.env_id, cell.seed] = entry
        # a sweep narrowed by --algos/--env-ids/--seeds leaves the other cells' records as they
        # were, and every earlier cell keeps its place in the record (and so in the report)
        self.data["cells"] = [current.pop(key, entry) for key, entry in earlier.items()] + list(current.values())

    def update(self, cell: Cell, **changes) -> None:
        self.cells[cell.key].update(changes)
        self.save()

    def save(self) -> None:
        write_json_atomically(self.path, self.data)


# ---- progress ----------------------------------------------------------------------------


class Progress:
    """Runs done / running / failed and an ETA: one line rewritten in place on a terminal,
    a plain line per event otherwise."""

    def __init__(self, total: int, done: int, slots: int):
        self.total, self.done, self.failed, self.running, self.slots = total, done, 0, {}, slots
        self.durations: list[float] = []
        self.tty = sys.stdout.isatty()
        self.drawn = 0.0

    def eta(self) -> float | None:
        if not self.durations:
            return None
        mean = sum(self.durations) / len(self.durations)
        waiting = self.total - self.done - self.failed - len(self.running)
        now = time.monotonic()
        left = waiting * mean + sum(max(mean - (now - start), 0.0) for start in self.running.values())
        return left / max(min(self.slots, waiting + len(self.running)), 1)

    def status(self) -> str:
        eta = self.eta()
        eta_text = "ETA unknown" if eta is None else f"ETA {eta / 60:.0f} min" if eta >= 90 else f"ETA {eta:.0f} s"
        return (f"{self.done}/{self.total} done, {len(self.running)} running, {self.failed} failed, "
                + (eta_text if self.done + self.failed < self.total else "finished"))

    def show(self, event: str | None = None) -> None:
        if self.tty:
            print("\r\033[K" + (event + "\n" if event else "") + self.status(), end="", flush=True)
            self.drawn = time.monotonic()
        elif event:
            print(f"{event} [{self.status()}]", flush=True)

    def tick(self) -> None:
        """Redraw the terminal's line once a second, for a live ETA."""
        if self.tty and time.monotonic() - self.drawn >= 1.0:
            self.show()

    def started(self, cell: Cell) -> None:
        self.running[cell.key] = time.monotonic()
        self.show(f"start  {cell.key}")

    def ended(self, cell: Cell, status: str, seconds: float, note: str) -> None:
        self.running.pop(cell.key, None)
        if status == "completed":
            self.done += 1
            self.durations.append(seconds)
        elif status == "failed":
            self.failed += 1
        self.show(f"{status:<10}{cell.key} after {seconds:.0f} s: {note}")

    def close(self) -> None:
        if self.tty:
            print(flush=True)


