"""Disk size of what `pip install -e .` (with any extras) puts in an environment.

    python benchmarks/install_size.py                  # the base install
    python benchmarks/install_size.py --extras cuda    # with an extra's packages too
    python benchmarks/install_size.py --record

Walks the installed project's requirements (`importlib.metadata`), and theirs, with their
environment markers evaluated for this Python and the extras asked for, and sums the files each
distribution's RECORD lists: the size on disk of dcgan-tf's dependency closure as installed here
(pip and setuptools, which every environment holds, are left out). Needs the extras' packages
installed to count them; a requirement that is not installed is listed, not guessed.
"""

import argparse
import importlib.metadata as metadata
import os
import platform
import sys

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

PROJECT = "dcgan-tf"
ALWAYS_THERE = {"pip", "setuptools", "wheel"}


def _wanted(requirement, extras):
    """Whether `requirement` applies here under `extras` (its marker evaluated for each)."""
    if requirement.marker is None:
        return True
    env = default_environment()
    return any(requirement.marker.evaluate({**env, "extra": extra}) for extra in extras or [""])


def closure(project=PROJECT, extras=()):
    """The installed distributions `project` pulls in, and the requirements not installed.

    Args:
        project: The root distribution's name.
        extras: Its extras to include.

    Returns:
        `(distributions, missing)`: `{canonical name: Distribution}` (the project included) and
        the sorted names of requirements with no installed distribution.
    """
    found, missing, walked = {}, set(), set()
    todo = [(project, tuple(extras))]
    while todo:
        name, wanted_extras = todo.pop()
        key = canonicalize_name(name)
        if key in ALWAYS_THERE or (key, wanted_extras) in walked:
            continue
        walked.add((key, wanted_extras))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            missing.add(key)
            continue
        if key in found and not wanted_extras:
            continue  # walked already; only an extra adds requirements
        found[key] = dist
        for text in dist.requires or []:
            requirement = Requirement(text)
            if not _wanted(requirement, wanted_extras):
                continue
            sub = canonicalize_name(requirement.name)
            if sub not in found or requirement.extras:
                todo.append((requirement.name, tuple(requirement.extras)))
    return found, sorted(missing - set(found))


def dist_bytes(dist):
    """Bytes of the files a distribution's RECORD lists (those present on disk)."""
    total = 0
    for file in dist.files or []:
        try:
            total += os.path.getsize(dist.locate_file(file))
        except OSError:
            continue
    return total


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--extras", default="", help="comma list of extras to include (cuda, portable, explore, test)")
    p.add_argument("--top", type=int, default=8, help="largest distributions to list")
    p.add_argument("--record", action="store_true", help="write an `install_size` record (benchmarks/results/)")
    args = p.parse_args(argv)
    extras = [e for e in args.extras.split(",") if e]
    found, missing = closure(PROJECT, extras)
    sizes = sorted(((dist_bytes(d), key, d.version) for key, d in found.items()), reverse=True)
    total = sum(size for size, _, _ in sizes)
    tensorflow = sum(size for size, key, _ in sizes if key.startswith("tensorflow"))
    python = platform.python_version()
    print(f"{PROJECT}{'[' + ','.join(extras) + ']' if extras else ''}: {len(sizes)} distributions, "
          f"{total / 1e9:.2f} GB installed (Python {python}, {platform.machine()})")
    print(f"{'distribution':32} {'version':>12} {'MB':>9}")
    for size, key, version in sizes[:args.top]:
        print(f"{key:32} {version:>12} {size / 1e6:>9.1f}")
    print(f"{'tensorflow*':32} {'':>12} {tensorflow / 1e6:>9.1f}  ({tensorflow / total:.0%} of the total)")
    if missing:
        print(f"not installed here, not counted: {', '.join(missing)}")
    if args.record:
        from records import write_record

        print("record:", write_record(
            "install_size", {"total_gb": round(total / 1e9, 2), "tensorflow_gb": round(tensorflow / 1e9, 2),
                             "distributions": len(sizes)},
            extras=",".join(extras), python=python, platform=platform.machine(), missing=missing))


if __name__ == "__main__":
    main()
