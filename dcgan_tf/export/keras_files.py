"""An export's networks as Keras files: `generator.keras` and `discriminator.keras`.

`keras.saving.load_model` opens them in a process that never imports dcgan_tf: the networks are
rebuilt from Keras' own layers (Keras' batch norm instead of the fused one, TensorFlow's kernel
gradients instead of the rewritten ones; the same function and the same weights) before saving.
A semi-supervised discriminator is saved up to its class logits: its real/fake logit is their
log-sum-exp, a layer Keras does not have. The files go under `assets.extra/` of the version,
which TF Serving does not load.
"""

import os

import keras

from dcgan_tf.training.models import (
    CLASS_LOGITS, build_discriminator, build_generator, dtype_policy,
)

GENERATOR_FILE = "assets.extra/generator.keras"
DISCRIMINATOR_FILE = "assets.extra/discriminator.keras"


def plain_networks(generator, discriminator, cfg):
    """Copies of `generator` and `discriminator` built from Keras' own layers only.

    Args:
        generator: The trained generator, z (z_dim,) -> image in [-1, 1].
        discriminator: The trained discriminator, image -> one logit.
        cfg: Their `ModelConfig`.

    Returns:
        `(generator, discriminator)`, float32 functional models holding the same weights; the
        discriminator of a semi-supervised model (`cfg.semi_supervised`) returns its K class
        logits, whose log-sum-exp is the real/fake logit.

    Raises:
        ValueError: a class-conditional model (`cfg.num_classes`), which exports do not cover.
    """
    if cfg.num_classes:
        raise ValueError(
            "Expected an unconditional model. Received: num_classes="
            f"{cfg.num_classes}; conditional models have no Keras-file export."
        )
    with dtype_policy("float32"):
        plain_g = build_generator(cfg, kernel_grads="native", fused_bn=False)
        plain_d = build_discriminator(cfg, kernel_grads="native", fused_bn=False)
    plain_g.set_weights(generator.get_weights())
    plain_d.set_weights(discriminator.get_weights())
    if cfg.semi_supervised:
        plain_d = keras.Model(plain_d.input, plain_d.get_layer(CLASS_LOGITS).output,
                              name="discriminator")
    return plain_g, plain_d


def write(version_dir, generator, discriminator, cfg):
    """Writes `generator.keras` and `discriminator.keras` under `version_dir/assets.extra/`.

    Args:
        version_dir: The SavedModel version directory being written.
        generator: The exported generator.
        discriminator: The exported discriminator.
        cfg: Their `ModelConfig`.

    Returns:
        The two paths written, generator first.
    """
    plain_g, plain_d = plain_networks(generator, discriminator, cfg)
    paths = []
    for model, relative in ((plain_g, GENERATOR_FILE), (plain_d, DISCRIMINATOR_FILE)):
        path = os.path.join(version_dir, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        model.save(path)
        paths.append(path)
    return paths
