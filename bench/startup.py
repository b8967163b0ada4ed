"""Start-up time of the ``llmsiem`` command, against the interpreter's own floor.

    python bench/startup.py [--runs 7]

Runs each command as a fresh process (the installed ``llmsiem`` console script next to this
interpreter), alternating them so machine load hits all alike, and prints the median wall
time of each, with its ratio to ``python -c pass`` (the floor no Python CLI can beat).
Target: ``llmsiem --help`` and ``llmsiem detect --help`` under 0.3 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

LLMSIEM = str(Path(sys.executable).parent / "llmsiem")
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "llmsiem --help": [LLMSIEM, "--help"],
    "llmsiem detect --help": [LLMSIEM, "detect", "--help"],
    "llmsiem validate --help": [LLMSIEM, "validate", "--help"],
    "llmsiem compile --help": [LLMSIEM, "compile", "--help"],
}
TARGET_SECONDS = 0.3


def wall_time(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each command (>= 5)")
    runs = max(5, parser.parse_args().runs)
    for command in COMMANDS.values():  # warm the file cache once
        wall_time(command)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(runs):
        for name, command in COMMANDS.items():
            times[name].append(wall_time(command))
    floor = statistics.median(times["python -c pass"])
    print(f"median of {runs} runs each (alternating); floor = python -c pass")
    for name, values in times.items():
        median = statistics.median(values)
        verdict = (
            ""
            if name.startswith("python")
            else ("  ok" if median < TARGET_SECONDS else f"  over {TARGET_SECONDS} s")
        )
        print(f"{name:26} {median:6.3f} s  {median / floor:5.2f}x floor{verdict}")


if __name__ == "__main__":
    main()
