"""The generator and the `features` read-out as graphs that portable runtimes can run.

The TF Serving SavedModel is built for TF Serving: a folded generator whose small transposed
convolutions are high-rank matmuls with an overlap-add, `saturate_cast` for `pixels`, in-graph
asserts and `EnsureShape` on z and images, an antialiased resize of any image size, and a
Philox z sampler. TFLite's builtins, ONNX and the browser runtimes lack some of each. Here the
same weights run as the Keras layers they were trained as (plain `Conv2DTranspose`, batch norm
in inference mode, which the converters fold into constants), `pixels` are clipped with min and
max, D's inputs arrive at the model's size, and z comes from outside (see `portable_z` and
`portable_runtime.check_z` for the seed generator and the z check the graph leaves out).

TFLite's generator takes one z per call: with a free batch dimension each transposed
convolution's output shape is computed at run time (`SHAPE`, `STRIDED_SLICE`, `PACK`), which
keeps TFLite from its fast kernels, an order of magnitude slower in LiteRT at batch 1
(`benchmarks/portable_latency.py`).
"""

import tensorflow as tf

from dcgan_tf.training.models import build_feature_model, extract_features, feature_dim

GENERATOR = "generator"
FEATURES = "features"


def _raw(variable):
    # Track the `tf.Variable` the functions capture, not the Keras wrapper: tracked through a
    # Keras 3 model, `tf.saved_model.save` stores a second, uninitialised copy.
    return getattr(variable, "value", variable)


def to_pixels(images):
    """`images` in [-1, 1] to uint8, as the SavedModel's `pixels`: round((x + 1) * 127.5),
    clipped with min/max (TFLite has no builtin for `saturate_cast`'s clip)."""
    scaled = tf.round((images + 1.0) * 127.5)
    return tf.cast(tf.minimum(tf.maximum(scaled, 0.0), 255.0), tf.uint8)


def build_portable(generator, discriminator, cfg, features_cfg):
    """A `tf.Module` with the two portable functions, `generate` and `features`.

    Args:
        generator: The Keras generator, z (z_dim,) -> image in [-1, 1].
        discriminator: The Keras discriminator.
        cfg: The run's `ModelConfig`.
        features_cfg: The `FeatureConfig` of the read-out, the one the SavedModel's `features`
            signature uses.

    Returns:
        A `tf.Module` whose `generate(z)` maps float32 z [N, z_dim] to `images` float32
        [N, size, size, channels] in [-1, 1] and `pixels` uint8 (`generate_one` the same
        for N = 1, fixed), and whose `features(images)` maps uint8 images
        [N, size, size, channels] to `features` float32 [N, F].
    """
    module = tf.Module(name="dcgan_portable")
    module.variables_list = [_raw(v) for v in [*generator.variables, *discriminator.variables]]
    feature_model = build_feature_model(discriminator, cfg, features_cfg)
    size, channels = cfg.image_size, cfg.channels

    def generate_images(z):
        images = tf.cast(generator(z, training=False), tf.float32)
        return {"images": images, "pixels": to_pixels(images)}

    generate = tf.function(generate_images, input_signature=[
        tf.TensorSpec([None, cfg.z_dim], tf.float32, name="z")])
    generate_one = tf.function(generate_images, input_signature=[
        tf.TensorSpec([1, cfg.z_dim], tf.float32, name="z")])

    @tf.function(input_signature=[
        tf.TensorSpec([None, size, size, channels], tf.uint8, name="images")])
    def features(images):
        x = tf.cast(images, tf.float32) / 127.5 - 1.0
        return {"features": tf.cast(extract_features(feature_model, x, features_cfg), tf.float32)}

    module.generate = generate
    module.generate_one = generate_one
    module.features = features
    module.feature_dim = feature_dim(cfg, features_cfg)
    return module


def functions(module, generator_batch=None):
    """`{name: tf.function}` of the models a portable export holds, generator first.

    `generator_batch=1` picks the generator fixed at one z per call (TFLite's).
    """
    generate = module.generate_one if generator_batch == 1 else module.generate
    return {GENERATOR: generate, FEATURES: module.features}


def save_function(module, function, path):
    """Saves `module` with `function` (one of its functions) as `serving_default`.

    TFLite's converter reads signature names (and so the inputs' and outputs' names) only
    from a SavedModel; `from_concrete_functions` writes a file without signatures.
    """
    tf.saved_model.save(module, path, signatures={"serving_default": function})
    return path


def io_contract(cfg, feature_width, generator_batch=None):
    """Input and output names, shapes (-1: any batch), dtypes and ranges of both models."""
    image = [-1, cfg.image_size, cfg.image_size, cfg.channels]
    g_batch = generator_batch or -1
    g_image = [g_batch, *image[1:]]
    z_range = [-1.0, 1.0] if cfg.z_dist == "uniform" else None
    return {
        GENERATOR: {
            "inputs": {"z": {"dtype": "float32", "shape": [g_batch, cfg.z_dim], "range": z_range}},
            "outputs": {
                "images": {"dtype": "float32", "shape": g_image, "range": [-1.0, 1.0]},
                "pixels": {"dtype": "uint8", "shape": g_image, "range": [0, 255]},
            },
        },
        FEATURES: {
            "inputs": {"images": {"dtype": "uint8", "shape": image, "range": [0, 255]}},
            "outputs": {"features": {"dtype": "float32", "shape": [-1, feature_width],
                                     "range": None}},
        },
    }
