"""py-spy profiles of running services during a benchmark, kept as text.

`recording` samples each named process with `py-spy record --format raw` (collapsed
stacks, one line per distinct stack with its sample count) until the block ends;
`summary` turns such a file into a `py-spy top`-like table: the functions with the most
samples, by own time and by total time (the function or anything it called).
py-spy reads another process's memory, so it needs root (or ptrace rights).

    uv run python -m bench.py_spy summarise run-api.raw > run-api.txt
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path

SAMPLING_RATE = 200  # per second; --nonblocking, so the services are never paused
RECORD_OPTIONS = ("record", "--format", "raw", "--rate", str(SAMPLING_RATE), "--nonblocking")


@contextlib.contextmanager
def recording(pids: Mapping[str, int], directory: Path) -> Iterator[dict[str, Path]]:
    """Sample every process of `pids` (name -> pid) into `directory/<name>.raw`."""
    binary = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    directory.mkdir(parents=True, exist_ok=True)
    outputs = {name: directory / f"{name}.raw" for name in pids}
    samplers = [
        subprocess.Popen(
            [binary, *RECORD_OPTIONS, "--pid", str(pid), "--output", str(outputs[name])],
            stdout=(directory / f"{name}.py-spy.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for name, pid in pids.items()
    ]
    try:
        yield outputs
    finally:
        for sampler in samplers:
            sampler.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
        for sampler in samplers:
            try:
                sampler.wait(60)
            except subprocess.TimeoutExpired:
                sampler.kill()


def _frames(stack: str) -> list[str]:
    """A collapsed stack's frames, outermost first, without the thread's own frame."""
    frames = stack.split(";")
    return frames[1:] if frames and frames[0].startswith(("process ", "thread ")) else frames


def summary(raw: Path, rows: int = 40) -> str:
    """The busiest functions of a collapsed-stack file, by own and by total samples."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = _frames(stack)
        samples += count
        if frames:
            own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    # Non-blocking sampling cannot always tell a waiting thread from a busy one: waits
    # (epoll inside uvloop, idle pool threads in Condition.wait) count among the samples.
    lines = [f"{samples} samples at {SAMPLING_RATE}/s ({samples / SAMPLING_RATE:.1f} s of stacks)"]
    for title, counter in (("own", own), ("total (incl. callees)", total)):
        lines += ["", f"{'%' + title:>26}  function (file:line)"]
        for frame, count in counter.most_common(rows):
            lines.append(f"{100 * count / max(samples, 1):26.1f}  {frame}")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "summarise":
        sys.exit("usage: python -m bench.py_spy summarise FILE.raw")
    print(summary(Path(sys.argv[2])))
