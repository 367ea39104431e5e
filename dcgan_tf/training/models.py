"""DCGAN generator and discriminator, built to the paper's architecture guidelines (section 3).

No pooling and no hidden dense layers: the generator projects z to 4x4xC with one matrix
multiply and upsamples with stride-2 transposed convolutions; the discriminator downsamples with
stride-2 convolutions and ends in one logit. Batch norm everywhere except the generator's output
and the discriminator's input layer. Weights start from N(0, 0.02) (section 4).
"""

import contextlib
import functools

import keras
from keras import layers

from dcgan_tf.config import FeatureConfig, ModelConfig
from dcgan_tf.fused_norm import FusedBatchNormalization
from dcgan_tf.training.patch_grads import PatchGradConv2D, PatchGradConv2DTranspose

ROTATIONS = 4  # 0, 90, 180 and 270 degrees (Chen et al. 2019).
# The layer of a semi-supervised D's K class logits.
CLASS_LOGITS = "class_logits"
# The contrastive projection head's hidden and output widths (SimCLR's 2-layer MLP, 128 out).
PROJECTION_HIDDEN = 512
PROJECTION_DIM = 128


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


def _bn(cfg, name, fused=True):
    # Gamma ~ N(1, 0.02) as in the reference implementations; beta starts at 0. Fused: one
    # kernel each way in training (`fused_norm`), Keras' own path in inference.
    return (FusedBatchNormalization if fused else layers.BatchNormalization)(
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


# The strided layers that take a rewritten kernel gradient (`dcgan_tf.training.patch_grads`):
# those whose larger image side is at most this, per method; "native" keeps TensorFlow's.
KERNEL_GRAD_SIDES = {"native": 0, "patches": 8, "dilated": 16}


def _strided_layer(plain, patched, kernel_grads, side):
    """`plain`, or `patched` taking `kernel_grads`' method where `side` is small enough."""
    if side > KERNEL_GRAD_SIDES[kernel_grads]:
        return plain
    return functools.partial(patched, method=kernel_grads)


def build_generator(cfg: ModelConfig, kernel_grads="native", fused_bn=True):
    """Builds G: z -> image in [-1, 1] (tanh).

    Args:
        cfg: The model's shape.
        kernel_grads: `"native"`, or the kernel gradient (`"patches"`, `"dilated"`) of the
            small-image layers (`KERNEL_GRAD_SIDES`, `hardware_plan.kernel_grads_choice`); the same
            function either way.
        fused_bn: Batch norm through TensorFlow's fused kernel in training (`fused_norm`),
            or Keras' own layer; the same function either way.

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
    x = _bn(cfg, "project_bn", fused_bn)(x)
    x = layers.ReLU(name="project_relu")(x)
    # Fractionally-strided convolutions double the size: 4x4 -> 8x8 -> ... -> size/2.
    for i, width in enumerate(widths[1:], start=1):
        deconv = _strided_layer(layers.Conv2DTranspose, PatchGradConv2DTranspose,
                                kernel_grads, 4 * 2**i)
        x = deconv(
            width, cfg.kernel_size, strides=2, padding="same", use_bias=False,
            kernel_initializer=_init(), name=f"deconv{i}",
        )(x)
        x = _bn(cfg, f"deconv{i}_bn", fused_bn)(x)
        x = layers.ReLU(name=f"deconv{i}_relu")(x)
    # Output layer: no batch norm, tanh to match images scaled to [-1, 1].
    x = layers.Conv2DTranspose(
        cfg.channels, cfg.kernel_size, strides=2, padding="same",
        kernel_initializer=_init(), name="to_image",
    )(x)
    images = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(inputs, images, name="generator")


def build_discriminator(cfg: ModelConfig, kernel_grads="native", fused_bn=True):
    """Builds D: image in [-1, 1] -> one real/fake logit per image.

    The outputs of the conv blocks (after LeakyReLU) are the paper's features (section 5),
    exposed by `feature_layer_names`.

    Args:
        cfg: The model's shape.
        kernel_grads: As `build_generator`'s.
        fused_bn: As `build_generator`'s.

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
    widths = discriminator_widths(cfg)
    for i, width in enumerate(widths):
        conv_class = _strided_layer(layers.Conv2D, PatchGradConv2D, kernel_grads,
                                    cfg.image_size // 2**i)
        conv = conv_class(
            width, cfg.kernel_size, strides=2, padding="same", use_bias=i == 0,
            kernel_initializer=_init(), name=f"conv{i}",
        )
        x = _spectral(cfg, conv)(x)
        if i > 0:  # No batch norm on the input layer.
            x = _bn(cfg, f"conv{i}_bn", fused_bn)(x)
        x = layers.LeakyReLU(negative_slope=0.2, name=f"conv{i}_lrelu")(x)
        if cfg.d_dropout:
            x = layers.Dropout(cfg.d_dropout, name=f"conv{i}_dropout")(x)
    # Flatten the last conv layer into a single logit (sigmoid lives in the loss).
    if cfg.d_head == "pool":
        x = layers.GlobalAveragePooling2D(name="pool")(x)
    else:
        x = layers.Flatten(name="flatten")(x)
    if cfg.semi_supervised:
        # K class logits; the real/fake logit is their log-sum-exp, D(x) = Z / (Z + 1) with
        # Z = sum exp(l_k): the K+1-class D with the fake logit fixed at 0 (Salimans et al.
        # 2016, section 5).
        dense = layers.Dense(cfg.label_classes, kernel_initializer=_init(), dtype="float32",
                             name=CLASS_LOGITS)
        logits = LogSumExp(name="logit")(_spectral(cfg, dense)(x))
        return keras.Model(inputs, logits, name="discriminator")
    logit = layers.Dense(1, kernel_initializer=_init(), dtype="float32", name="logit")
    logits = _spectral(cfg, logit)(x)
    return keras.Model(inputs, logits, name="discriminator")


@keras.saving.register_keras_serializable(package="dcgan_tf")
class LogSumExp(layers.Layer):
    """log(sum_k exp(l_k)) over the last axis, kept as a (N, 1) logit (float32)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)

    def call(self, logits):
        return keras.ops.logsumexp(keras.ops.cast(logits, "float32"), axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 1)


def with_class_logits(discriminator):
    """A view of a semi-supervised `discriminator` returning `[class logits, the vector they
    read]` (the flattened or pooled last block, where feature matching reads), sharing its
    layers."""
    head = discriminator.get_layer(CLASS_LOGITS)
    return keras.Model(discriminator.input, [head.output, head.input], name="d_with_classes")


def semi_classifier(discriminator):
    """The K-class classifier inside a semi-supervised `discriminator` (images -> K logits)."""
    return keras.Model(discriminator.input, discriminator.get_layer(CLASS_LOGITS).output,
                       name="classifier")


def _spectral(cfg, layer):
    # Spectral normalisation (Miyato et al. 2018) is an option, not the paper: the wrapper
    # takes the layer's name, so feature and visualisation code finds `conv{i}` either way.
    if not cfg.spectral_norm:
        return layer
    name = layer.name
    layer.name = f"{name}_inner"
    return layers.SpectralNormalization(layer, name=name, dtype=layer.dtype_policy)


def build_rotation_head(cfg: ModelConfig):
    """Builds the self-supervised rotation head: D's flattened last block -> 4 rotation logits.

    A linear layer on the features D's real/fake logit reads (Chen et al. 2019, section 3).

    Args:
        cfg: The model's shape.

    Returns:
        A `keras.Model` from (4 * 4 * widest D block,) to float32 logits (4,).
    """
    features = keras.Input((16 * discriminator_widths(cfg)[-1],), name="d_features")
    logits = layers.Dense(
        ROTATIONS, kernel_initializer=_init(), dtype="float32", name="rotation_logits"
    )(features)
    return keras.Model(features, logits, name="rotation_head")


def build_projection_head(cfg: ModelConfig):
    """Builds the contrastive projection head: D's last block -> average pool -> 2-layer MLP.

    SimCLR's head (Chen et al. 2020): the loss acts on its output, so the features the probe
    reads stay one non-linearity away from it. Pooling the 4x4 block first asks the block
    itself, not the head, to agree across crops of one image.

    Args:
        cfg: The model's shape.

    Returns:
        A `keras.Model` from (4 * 4 * widest D block,) to float32 projections (128,).
    """
    width = discriminator_widths(cfg)[-1]
    features = keras.Input((16 * width,), name="d_features")
    x = layers.Reshape((4, 4, width), name="block")(features)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dense(PROJECTION_HIDDEN, activation="relu", name="hidden")(x)
    out = layers.Dense(PROJECTION_DIM, dtype="float32", name="projection")(x)
    return keras.Model(features, out, name="projection_head")


def with_last_features(discriminator):
    """A view of `discriminator` returning `[logits, flattened last block]`, sharing its layers."""
    flat = discriminator.get_layer("flatten").output
    return keras.Model(discriminator.inputs, [discriminator.output, flat], name="d_with_features")


def feature_layer_names(cfg: ModelConfig, features: FeatureConfig | None = None):
    """Names of the discriminator layers whose outputs form the probe features.

    Args:
        cfg: The model's shape.
        features: Which blocks and whether before or after the LeakyReLU. Defaults to the
            paper's: every block, after the activation.
    """
    features = features or FeatureConfig()
    names = []
    for i in features.block_indices(cfg.num_blocks):
        if features.activation == "post":
            names.append(f"conv{i}_lrelu")
        else:  # What enters the LeakyReLU: batch norm's output, the convolution's on block 0.
            names.append(f"conv{i}_bn" if i > 0 else f"conv{i}")
    return names


def build_feature_model(discriminator, cfg: ModelConfig, features: FeatureConfig | None = None):
    """Returns a model mapping images to the list of the chosen block activations of `discriminator`."""
    if cfg.num_classes:
        raise ValueError("Expected an unconditional discriminator for features (num_classes=0).")
    outputs = [discriminator.get_layer(n).output for n in feature_layer_names(cfg, features)]
    return keras.Model(discriminator.input, outputs, name="discriminator_features")


def pooled_features(activations, grid=4):
    """Max-pools each activation to a `grid` x `grid` map, flattens and concatenates (section 5).

    Args:
        activations: List of tensors (N, H, W, C) with H and W multiples of `grid`.
        grid: Side of the pooled grid, or a tuple of sides for a spatial pyramid (each
            activation pooled to every grid, He et al. 2014). Defaults to 4 (paper).

    Returns:
        A float32 tensor (N, sum over activations and grids of grid * grid * C).
    """
    grids = (grid,) if isinstance(grid, int) else tuple(grid)
    pooled = []
    for a in activations:
        for g in grids:
            size = a.shape[1] // g
            p = keras.ops.max_pool(a, pool_size=size, strides=size, padding="valid") if size > 1 else a
            pooled.append(keras.ops.reshape(p, (keras.ops.shape(p)[0], -1)))
    return keras.ops.cast(keras.ops.concatenate(pooled, axis=-1), "float32")


def feature_views(images, features: FeatureConfig | None = None):
    """The views of `images` (N, H, W, C) whose features are averaged: the image and its
    shifts by `shift` pixels left, right, up and down (reflected borders), each also mirrored
    when `flip` is set."""
    features = features or FeatureConfig()
    views = [images]
    if features.shift:
        s, (height, width) = features.shift, images.shape[1:3]
        padded = keras.ops.pad(images, [[0, 0], [s, s], [s, s], [0, 0]], mode="reflect")
        for dy, dx in ((0, -s), (0, s), (-s, 0), (s, 0)):
            views.append(padded[:, s + dy:s + dy + height, s + dx:s + dx + width])
    if features.flip:
        views += [keras.ops.flip(v, axis=2) for v in views]
    return views


def extract_features(feature_model, images, features: FeatureConfig | None = None):
    """The probe features of `images` (N, H, W, C) in [-1, 1]: pooled, averaged over
    `feature_views`, power-normalised if chosen. Batch norm runs in inference mode.

    Averaging over mirrored and shifted copies makes the features invariant to what the
    data is invariant to, at no extra width.
    """
    features = features or FeatureConfig()
    views = feature_views(images, features)
    pooled = [pooled_features(feature_model(v, training=False), features.grids) for v in views]
    out = pooled[0] if len(pooled) == 1 else keras.ops.mean(keras.ops.stack(pooled), axis=0)
    if features.power:
        out = keras.ops.sign(out) * keras.ops.sqrt(keras.ops.abs(out))
    return out


def feature_dim(cfg: ModelConfig, features: FeatureConfig | None = None):
    """Width of the pooled feature vector, e.g. 7168 for 32x32, ndf=64 and the paper's features."""
    features = features or FeatureConfig()
    widths = discriminator_widths(cfg)
    cells = sum(g * g for g in features.grids)
    return cells * sum(widths[i] for i in features.block_indices(cfg.num_blocks))


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
