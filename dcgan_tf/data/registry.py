"""The datasets `dcgan-tf` knows, by how they are read; TensorFlow-free so the CLI can list them.

Add a dataset here (and its reader in `dcgan_tf.data.datasets`): the CLI's choices, the probe
and the investigations take their lists from this module.
"""

# Read from their original files into memory, with labels: what the probe and the
# investigations can use.
# `npz` is a user's own labelled file (`dcgan_tf.data.npz`); its shape comes from the file.
IN_MEMORY_DATASETS = ("digits", "svhn", "cifar10", "mnist", "fashion_mnist", "folder", "npz")
# Streamed from an already prepared TensorFlow Datasets directory.
TFDS_DATASETS = ("celeb_a", "lsun/bedroom", "downsampled_imagenet/32x32")
DATASETS = IN_MEMORY_DATASETS + TFDS_DATASETS
# (image_size, channels) each dataset trains at by default.
NATIVE_SHAPES = {
    "digits": (32, 1), "svhn": (32, 3), "cifar10": (32, 3), "mnist": (32, 1),
    "fashion_mnist": (32, 1), "folder": (64, 3), "celeb_a": (64, 3), "lsun/bedroom": (64, 3),
    "downsampled_imagenet/32x32": (32, 3),
}

# Last: `dcgan_tf.config` reads this module's lists while it is imported.
from dcgan_tf.config import DEFAULT_EPOCHS  # noqa: E402,F401  (epochs per dataset; importable here too)
