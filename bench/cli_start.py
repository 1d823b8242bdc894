"""How long a clerk's script waits for one CLI call, beside the floor of any command on this stack.

    PYTHONPATH=. python bench/cli_start.py                  # builds a demo database in a temp dir
    PYTHONPATH=. python bench/cli_start.py --home DIR       # reuses DIR/hazardloop.sqlite (demo already loaded)
    PYTHONPATH=. python bench/cli_start.py --runs 9

What is timed (wall clock, each in a fresh process, the median of --runs):
  command   `hazardloop hazard list --json` on the demo (400 hazards, 300 enterprises)
  help      `hazardloop --help`
  state     `hazardloop hazard list --state 整改中 --json`
  missing   `hazardloop inspection missing --region 石横镇 --json`
  floor     `python -c 'import sqlmodel, typer'`: what any command built on SQLModel and typer pays
The runs take turns (command, floor, command, floor …), so load from other processes hits both alike.
Every case runs with its bytecode cached (PYTHONPYCACHEPREFIX in a temporary directory, filled by one
untimed run), as an installed package runs.
Also printed: which of the heavy modules (openpyxl, numpy, matplotlib, apprise, jinja2, prefect,
alembic) `hazard list --json` imported — none is the goal.

Also the CPU seconds of each run (user + system, from the children's rusage): on a shared machine
under load they wobble less than the wall clock; the CPU ratio is printed for information.

With --instructions (needs valgrind): each of command, floor (and before) once more under
`valgrind --tool=cachegrind --cache-sim=no`, which counts the instructions the process executes.
The count does not depend on the machine's load (a run takes ~30× longer), so on a shared machine
it is the steady figure; its ratio is printed for information, before the wall-clock one.

Output: the medians, then `ratio: N.NN` (command / floor) last.  Target: at most 1.5.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("openpyxl", "numpy", "matplotlib", "apprise", "jinja2", "prefect", "alembic")


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "hazardloop", *args]


CPU: dict[str, list[float]] = {}


def _time(cmd: list[str], env: dict[str, str], name: str = "") -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    # `python -m` puts the working directory first on sys.path: run each package from its own directory
    out = subprocess.run(cmd, env=env, cwd=env.get("PYTHONPATH", ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} 失败：{out.stderr[-500:]}")
    if name:  # CPU seconds too: on a shared, loaded machine they wobble less than the wall clock
        CPU.setdefault(name, []).append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return took


def _instructions(cmd: list[str], env: dict[str, str]) -> int:
    """Instructions executed by `cmd` (cachegrind's "I refs"): the same whatever else the machine runs."""
    out = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", *cmd],
                         env=env, cwd=env.get("PYTHONPATH", ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
    found = re.search(r"I\s+refs:\s+([\d,]+)", out.stderr)
    if out.returncode != 0 or not found:
        raise SystemExit(f"valgrind {' '.join(cmd)} 失败：{out.stderr[-500:]}")
    return int(found.group(1).replace(",", ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", help="HAZARDLOOP_HOME holding a demo database (default: build one in a temp dir)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--before", help="a directory holding an older hazardloop/ package (e.g. `git archive 02ea2be "
                                     "hazardloop | tar -x -C DIR`): its `hazard list --json` and `inspection missing` "
                                     "are timed in the same turns, for information")
    ap.add_argument("--instructions", action="store_true",
                    help="also count the instructions of command, floor (and before) under valgrind (load-independent)")
    args = ap.parse_args()
    if args.instructions and not shutil.which("valgrind"):
        raise SystemExit("--instructions 需要 valgrind")
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="80")
    # Bytecode cached, as on a clerk's machine (pip and the first run write it): a process environment
    # with PYTHONDONTWRITEBYTECODE (this sandbox sets it) would make every run compile the package's ~40
    # modules from source, which the floor, importing installed packages, never does.  The cache goes to
    # a temporary directory (not the source tree); the untimed first run of each case fills it.
    pycache = tempfile.TemporaryDirectory(prefix="hl_cli_start_pyc_")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = pycache.name
    tmp = None
    if args.home:
        env["HAZARDLOOP_HOME"] = args.home
    else:
        tmp = tempfile.TemporaryDirectory(prefix="hl_cli_start_")
        env["HAZARDLOOP_HOME"] = tmp.name
        print("演示数据库构建中（init + demo）…", flush=True)
        for step in (_cli("init"), _cli("demo")):
            subprocess.run(step, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    env.pop("HAZARDLOOP_DATABASE_URL", None)

    probe = ("import runpy, sys; sys.argv = ['hazardloop', 'hazard', 'list', '--json']\n"
             "try:\n    runpy.run_module('hazardloop', run_name='__main__')\nexcept SystemExit:\n    pass\n"
             f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)")
    heavy = subprocess.run([sys.executable, "-c", probe], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True).stderr.strip().splitlines()
    loaded = heavy[-1] if heavy else ""

    cases = {
        "command": _cli("hazard", "list", "--json"),
        "floor": [sys.executable, "-c", "import sqlmodel, typer"],
        "help": _cli("--help"),
        "state": _cli("hazard", "list", "--state", "整改中", "--json"),
        "missing": _cli("inspection", "missing", "--region", "石横镇", "--json"),
    }
    envs = {k: env for k in cases}
    if args.before:
        old_env = dict(env, PYTHONPATH=str(Path(args.before).resolve()))
        cases["before"] = _cli("hazard", "list", "--json")
        cases["missing-before"] = _cli("inspection", "missing")  # the old default: every gap in one table
        cases["missing-now"] = _cli("inspection", "missing")  # today's default: the first page
        envs.update({"before": old_env, "missing-before": old_env, "missing-now": env})
    times: dict[str, list[float]] = {k: [] for k in cases}
    for name, cmd in cases.items():  # warm the OS caches once, untimed
        _time(cmd, envs[name])
    for _ in range(args.runs):
        for name, cmd in cases.items():
            times[name].append(_time(cmd, envs[name], name))
    med = {k: statistics.median(v) for k, v in times.items()}
    try:
        load = os.getloadavg()
        print(f"机器负载（1/5/15 分钟）：{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}；CPU {os.cpu_count()} 核")
    except OSError:
        pass
    for name, cmd in cases.items():
        shown = " ".join(cmd[3:]) if cmd[1] == "-m" else " ".join(cmd[1:])
        print(f"{name:14s} 中位 {med[name]:.3f} 秒（{args.runs} 次：{', '.join(f'{t:.2f}' for t in times[name])}）"
              f"  CPU 中位 {statistics.median(CPU[name]):.3f} 秒  {shown}")
    print(f"hazard list --json 载入的重模块：{loaded or '无'}")
    if args.instructions:
        counted = {name: _instructions(cases[name], envs[name]) for name in ("command", "floor", "before") if name in cases}
        for name, count in counted.items():
            print(f"{name:14s} 指令数 {count / 1e9:.3f} G")
        print(f"指令数比值（参考，不受负载影响）：{counted['command'] / counted['floor']:.2f}")
    if tmp is not None:
        tmp.cleanup()
    pycache.cleanup()
    print(f"CPU 比值（参考）：{statistics.median(CPU['command']) / statistics.median(CPU['floor']):.2f}")
    print(f"ratio: {med['command'] / med['floor']:.2f}")


if __name__ == "__main__":
    main()
