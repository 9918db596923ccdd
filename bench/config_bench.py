"""Time `stackctl config` against `docker stack config` on generated 200- and 1000-service files.

Usage: python bench/config_bench.py [--runs 5] [--shape anchored|plain]. Prints the median wall time
of each (runs interleaved, ABBA) and the ratio; the target is at most 2x the reference. The full
benchmark, with this case and the others, is `python -m bench` (bench/README.md); this is the quick
loop for working on the load stage. The default shape is the one this script always used (YAML anchors
and merge keys); `plain` is the main benchmark's (compose-v1-python.md §2).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import gen  # noqa: E402
from bench.measure import interleave, run_timed  # noqa: E402
from bench.run import NO_DAEMON, child_env, precompile, stackctl_command  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--shape", choices=("anchored", "plain"), default="anchored")
    args = parser.parse_args(argv)
    stackctl = stackctl_command()
    docker = shutil.which("docker", path="/usr/local/bin") or shutil.which("docker") or sys.exit("no docker")
    env = child_env()
    env["DOCKER_HOST"] = NO_DAEMON
    precompile()
    make = gen.anchored_stack if args.shape == "anchored" else gen.config_stack
    print(f"{'services':>8} {'stackctl s':>11} {'docker s':>9} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "db_password.txt").write_text("pw\n")
        (Path(tmp) / "app.conf").write_text("conf\n")
        for count in (200, 1000):
            path = Path(tmp) / f"stack-{count}.yml"
            path.write_text(make(count))
            argv_of = {"stackctl": [*stackctl, "config", "-c", str(path)],
                       "docker": [docker, "stack", "config", "-c", str(path)]}
            samples = interleave(list(argv_of), args.runs,
                                 lambda tool, _i, a=argv_of: run_timed(a[tool], env=env, cwd=tmp))
            for tool, sample in samples.items():
                if sample.failures:
                    failed = next(r for r in sample.runs if r.returncode)
                    sys.exit(f"{tool} failed: {failed.stderr[:500]}")
            mine, ref = samples["stackctl"].median, samples["docker"].median
            assert mine is not None and ref is not None
            print(f"{count:>8} {mine:>11.3f} {ref:>9.3f} {mine / ref:>6.2f}")


if __name__ == "__main__":
    main()
