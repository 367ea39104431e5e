"""DCGAN generator and discriminator, built to the paper's architecture guidelines (section 3).

No pooling and no hidden dense layers: the generator projects z to 4x4xC with one matrix
multiply and upsamples with stride-2 transposed convolutions; the discriminator downsamples with
stride-2 convolutions and ends in one logit. Batch norm everywhere except the generator's output
and the discriminator's input layer. Weights start from N(0, 0.02) (section 4).
"""

import contextlib

import keras
from keras import layers

from dcgan_tf.config import ModelConfig


@contextlib.contextmanager
def dtype_policy(name):
    """Builds Keras layers under dtype policy `name` inside the block, then restores the old one.

    Layers keep the policy they were built with, so mixed precision stays inside one model.
    """
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def _init():
    # Unseeded on purpose: `keras.utils.set_random_seed` makes runs repeatable, while a fixed
    # per-initializer seed would give every same-shaped layer the same weights.
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


def _bn(cfg, name):
    # Gamma ~ N(1, 0.02) as in the reference implementations; beta starts at 0.
    return layers.BatchNormalization(
        momentum=cfg.bn_momentum,
        epsilon=1e-5,
        gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02),
        name=name,
    )


def generator_widths(cfg):
    """Channels of each generator block, from 4x4 up to half the image size."""
    return [cfg.ngf * 2 ** (cfg.num_blocks - 1 - i) for i in range(cfg.num_blocks)]


def discriminator_widths(cfg):
    """Channels of each discriminator block, from half the image size down to 4x4."""
    return [cfg.ndf * 2**i for i in range(cfg.num_blocks)]


def build_generator(cfg: ModelConfig):
    """Builds G: z -> image in [-1, 1] (tanh).

    Args:
        cfg: The model's shape.

    Returns:
        A functional `keras.Model` with input `z` (z_dim,) and output
        (image_size, image_size, channels).
    """
    widths = generator_widths(cfg)
    z = keras.Input((cfg.z_dim,), name="z")
    inputs, x = z, z
    if cfg.num_classes:
        # Conditional: the one-hot label joins z before the projection.
        label = keras.Input((1,), dtype="int32", name="label")
        onehot = layers.CategoryEncoding(cfg.num_classes, output_mode="one_hot", name="onehot")(label)
        inputs, x = [z, label], layers.Concatenate(name="z_label")([z, onehot])
    # Project and reshape: z(100) -> 4x4x(ngf*2^(blocks-1)), one matrix multiply.
    x = layers.Dense(4 * 4 * widths[0], use_bias=False, kernel_initializer=_init(), name="project")(x)
    x = layers.Reshape((4, 4, widths[0]), name="reshape")(x)
    x = _bn(cfg, "project_bn")(x)
    x = layers.ReLU(name="project_relu")(x)
    # Fractionally-strided convolutions double the size: 4x4 -> 8x8 -> ... -> size/2.
    for i, width in enumerate(widths[1:], start=1):
        x = layers.Conv2DTranspose(
            width, cfg.kernel_size, strides=2, padding="same", use_bias=False,
            kernel_initializer=_init(), name=f"deconv{i}",
        )(x)
        x = _bn(cfg, f"deconv{i}_bn")(x)
        x = layers.ReLU(name=f"deconv{i}_relu")(x)
    # Output layer: no batch norm, tanh to match images scaled to [-1, 1].
    x = layers.Conv2DTranspose(
        cfg.channels, cfg.kernel_size, strides=2, padding="same",
        kernel_initializer=_init(), name="to_image",
    )(x)
    images = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(inputs, images, name="generator")


def build_discriminator(cfg: ModelConfig):
    """Builds D: image in [-1, 1] -> one real/fake logit per image.

    The outputs of the conv blocks (after LeakyReLU) are the paper's features (section 5),
    exposed by `feature_layer_names`.

    Args:
        cfg: The model's shape.

    Returns:
        A functional `keras.Model` with input (image_size, image_size, channels) and
        output logits of shape (1,).
    """
    images = keras.Input((cfg.image_size, cfg.image_size, cfg.channels), name="images")
    inputs, x = images, images
    if cfg.num_classes:
        # Conditional: the one-hot label enters as constant extra channels of the image.
        label = keras.Input((1,), dtype="int32", name="label")
        onehot = layers.CategoryEncoding(cfg.num_classes, output_mode="one_hot", name="onehot")(label)
        maps = layers.Reshape((1, 1, cfg.num_classes), name="label_map")(onehot)
        maps = layers.UpSampling2D(cfg.image_size, name="label_maps")(maps)
        inputs, x = [images, label], layers.Concatenate(name="image_label")([images, maps])
    # Strided convolutions halve the size: size -> size/2 -> ... -> 4x4.
    for i, width in enumerate(discriminator_widths(cfg)):
        x = layers.Conv2D(
            width, cfg.kernel_size, strides=2, padding="same", use_bias=i == 0,
            kernel_initializer=_init(), name=f"conv{i}",
        )(x)
        if i > 0:  # No batch norm on the input layer.
            x = _bn(cfg, f"conv{i}_bn")(x)
        x = layers.LeakyReLU(negative_slope=0.2, name=f"conv{i}_lrelu")(x)
    # Flatten the last conv layer into a single logit (sigmoid lives in the loss).
    x = layers.Flatten(name="flatten")(x)
    logits = layers.Dense(1, kernel_initializer=_init(), dtype="float32", name="logit")(x)
    return keras.Model(inputs, logits, name="discriminator")


def feature_layer_names(cfg: ModelConfig):
    """Names of the discriminator layers whose outputs form the probe features."""
    return [f"conv{i}_lrelu" for i in range(cfg.num_blocks)]


def build_feature_model(discriminator, cfg: ModelConfig):
    """Returns a model mapping images to the list of conv-block activations of `discriminator`."""
    if cfg.num_classes:
        raise ValueError("Expected an unconditional discriminator for features (num_classes=0).")
    outputs = [discriminator.get_layer(n).output for n in feature_layer_names(cfg)]
    return keras.Model(discriminator.input, outputs, name="discriminator_features")


def pooled_features(activations, grid=4):
    """Max-pools each activation to a `grid` x `grid` map, flattens and concatenates (section 5).

    Args:
        activations: List of tensors (N, H, W, C) with H and W multiples of `grid`.
        grid: Side of the pooled grid. Defaults to 4 (paper).

    Returns:
        A float32 tensor (N, sum(grid * grid * C)).
    """
    pooled = []
    for a in activations:
        size = a.shape[1] // grid
        p = keras.ops.max_pool(a, pool_size=size, strides=size, padding="valid") if size > 1 else a
        pooled.append(keras.ops.reshape(p, (keras.ops.shape(p)[0], -1)))
    return keras.ops.cast(keras.ops.concatenate(pooled, axis=-1), "float32")


def feature_dim(cfg: ModelConfig, grid=4):
    """Width of the pooled feature vector, e.g. 7168 for 32x32 and ndf=64."""
    return grid * grid * sum(discriminator_widths(cfg))


def recalibrate_batchnorm(model, batches):
    """Re-estimates the batch-norm moving statistics of `model` for its current weights.

    Inference mode uses moving averages that lag the weights during training, so samples
    drawn in inference mode can differ from training-mode ones (dcgan.torch #19). Running
    the model in training mode over fresh batches, with no gradient step, catches them up.

    Args:
        model: A Keras model with `BatchNormalization` layers.
        batches: Iterable of input batches (e.g. z for the generator, images for D).
    """
    norms = [l for l in model.layers if isinstance(l, layers.BatchNormalization)]
    momenta = [l.momentum for l in norms]
    try:
        for i, x in enumerate(batches, start=1):
            # Momentum 1 - 1/i makes the moving statistics the plain mean over the batches.
            for layer in norms:
                layer.momentum = 1.0 - 1.0 / i
            model(x, training=True)
    finally:
        for layer, momentum in zip(norms, momenta):
            layer.momentum = momentum
