"""dcgan-tf: DCGAN (Radford, Metz & Chintala 2015) in TensorFlow/Keras.

Train, export to TF Serving SavedModels, generate, and probe the discriminator's features.
Heavy modules (TensorFlow) load on first use, so `import dcgan_tf` and `dcgan-tf --help` stay
fast. `RunConfig.from_recipe(...)` is what `dcgan-tf train ...` runs (docs/python-api.md).
"""

import importlib

from dcgan_tf.config import FeatureConfig, ModelConfig, TrainConfig

__version__ = "0.1.0"

_LAZY = {
    "RunConfig": "dcgan_tf.training.run_config",
    "DCGAN": "dcgan_tf.training.gan",
    "build_generator": "dcgan_tf.training.models",
    "build_discriminator": "dcgan_tf.training.models",
    "train": "dcgan_tf.training.run",
    "load_split": "dcgan_tf.data.datasets",
    "train_dataset": "dcgan_tf.data.datasets",
    "PipelineConfig": "dcgan_tf.data.datasets",
    "export_savedmodel": "dcgan_tf.export.savedmodel",
    "ExportConfig": "dcgan_tf.export.config",
    "generate": "dcgan_tf.serving.generation",
    "open_client": "dcgan_tf.serving.clients",
    "ProbeConfig": "dcgan_tf.probe.protocol",
    "run_probe": "dcgan_tf.probe.run",
    "run_baseline": "dcgan_tf.probe.baselines",
    "format_table": "dcgan_tf.probe.run",
    "ScoreConfig": "dcgan_tf.scoring.score",
    "score_savedmodel": "dcgan_tf.scoring.score",
    "NNConfig": "dcgan_tf.investigations.nn_classify",
    "nn_classify": "dcgan_tf.investigations.nn_classify",
}

__all__ = ["FeatureConfig", "ModelConfig", "TrainConfig", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dcgan_tf' has no attribute {name!r}")
