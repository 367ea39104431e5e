"""What an export computes from a run, apart from where it goes (a frozen dataclass).

Fields that are options of `dcgan-tf export` take their default from `dcgan_tf.options`.
"""

import dataclasses

from dcgan_tf.options import field


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    """The checkpoint, generator, read-out and serving choices of one export.

    Where the export goes (base path, name, version) is given to `export_savedmodel` and
    `export_formats` themselves.

    Args:
        which: Checkpoint: `"last"`, `"best"` or a step number. Defaults to `"last"`.
        overwrite: Replace a version (and its portable formats) that exists. Defaults to
            `False`.
        generator: `"raw"`: the trained generator; `"ema"`: its weight average (a run
            trained with `--g-ema`), with its own re-estimated batch-norm statistics. The
            SavedModel only. Defaults to `"raw"`.
        features: Dict of `FeatureConfig` fields overriding the run's recorded choices for
            the `features` signature (`config.json`; the paper's for older runs). Defaults to
            `None`.
        jit: XLA-compile the generating signatures (see `build_servable`). Defaults to
            `False`.
        precision: The generating signatures' compute dtype, `"fp32"` or `"bf16"` (see
            `build_servable`); recorded in the metadata as `serving_precision`. Defaults to
            `"fp32"`.
        serving_root: Where the server sees the base path, for new entries of
            `models.config` (and all of them when given). `None` keeps existing entries and
            uses their root, or `"/models"` (the Docker image's) for the first. Defaults to
            `None`.
    """

    which: str | int = field("checkpoint")
    overwrite: bool = field("overwrite")
    generator: str = field("generator")
    features: dict | None = None
    jit: bool = False
    precision: str = field("serving_precision")
    serving_root: str | None = field("serving_root")
