"""dcgan-tf: DCGAN (Radford, Metz & Chintala 2015) in TensorFlow/Keras 3.

Train, export to TF Serving SavedModels, and probe the discriminator's features. Heavy
modules (TensorFlow) load on first use, so `import dcgan_tf` and `dcgan-tf --help` stay fast.
"""

import importlib

from dcgan_tf.config import ModelConfig, TrainConfig

__version__ = "0.1.0"

_LAZY = {
    "DCGAN": "dcgan_tf.gan",
    "build_generator": "dcgan_tf.models",
    "build_discriminator": "dcgan_tf.models",
    "train": "dcgan_tf.train",
    "load_split": "dcgan_tf.data",
    "train_dataset": "dcgan_tf.data",
    "export_savedmodel": "dcgan_tf.export",
    "ProbeConfig": "dcgan_tf.svm",
    "run_probe": "dcgan_tf.probe",
    "run_baseline": "dcgan_tf.baselines",
    "nn_classify": "dcgan_tf.conditional",
}

__all__ = ["ModelConfig", "TrainConfig", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dcgan_tf' has no attribute {name!r}")
