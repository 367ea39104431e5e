"""The parts a DCGAN is built from: each departure from the paper in its own module.

A part module defines `PART`, its `GANPart` subclass; `discover` finds every one, so a new
part is its module, its option's declaration and its test.
"""

import importlib
import pkgutil


def discover():
    """Every part class of this package, in the order of their `position`."""
    found = []
    for module in pkgutil.iter_modules(__path__):
        part = getattr(importlib.import_module(f"{__name__}.{module.name}"), "PART", None)
        if part is not None:
            found.append(part)
    return sorted(found, key=lambda part: part.position)
