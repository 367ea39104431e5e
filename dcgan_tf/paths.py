"""Where dcgan-tf keeps caches (features, classifiers, random-baseline exports)."""

import os


def default_cache_dir():
    """`$DCGAN_TF_CACHE`, else `$XDG_CACHE_HOME/dcgan-tf`, else `~/.cache/dcgan-tf`."""
    if os.environ.get("DCGAN_TF_CACHE"):
        return os.environ["DCGAN_TF_CACHE"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "dcgan-tf")
