"""The serving generator: batch norm folded in, small transposed convs as matmuls."""

import numpy as np
import pytest
import tensorflow as tf

from dcgan_tf.config import ModelConfig
from dcgan_tf.export.folded_generator import FoldedGenerator, conv_transpose_matmul
from dcgan_tf.training.models import build_generator


@pytest.mark.parametrize("transposed", [False, True], ids=["x@k", "k@x"])
@pytest.mark.parametrize("n, h, cin, cout", [(1, 4, 64, 32), (3, 8, 16, 8), (2, 16, 8, 3)])
def test_conv_transpose_matmul_equals_conv2d_transpose(n, h, cin, cout, transposed):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, h, h, cin)).astype("float32")
    kernel = rng.standard_normal((4, 4, cout, cin)).astype("float32")
    expected = tf.nn.conv2d_transpose(x, kernel, (n, 2 * h, 2 * h, cout), 2, "SAME").numpy()
    matrix = np.transpose(kernel, (3, 0, 1, 2)).reshape(cin, -1)
    matrix = matrix.T if transposed else matrix
    got = conv_transpose_matmul(tf.constant(x), matrix, cout, transposed).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "cfg",
    [
        ModelConfig(image_size=32, channels=1, ngf=16),
        ModelConfig(image_size=64, channels=3, ngf=8, kernel_size=5),
        ModelConfig(image_size=128, channels=3, ngf=4),
    ],
    ids=lambda c: f"{c.image_size}-k{c.kernel_size}",
)
def test_folded_generator_equals_keras_inference_mode(cfg):
    generator = build_generator(cfg)
    rng = np.random.default_rng(1)
    for layer in generator.layers:  # statistics far from the 0/1 defaults
        if layer.name.endswith("_bn"):
            layer.moving_mean.assign(rng.normal(0, 0.3, layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.2, 3, layer.moving_variance.shape))
            layer.beta.assign(rng.normal(0, 0.3, layer.beta.shape))
    z = rng.uniform(-1, 1, (5, cfg.z_dim)).astype("float32")
    expected = generator(z, training=False).numpy()
    folded = FoldedGenerator(generator)
    np.testing.assert_allclose(folded(tf.constant(z)).numpy(), expected, atol=1e-5)
    jitted = tf.function(folded.__call__, jit_compile=True)
    np.testing.assert_allclose(jitted(tf.constant(z)).numpy(), expected, atol=1e-5)
    # Batch norm is gone: one kernel and one bias per upsampling layer, plus the projection.
    assert len(folded.trainable_variables) == 2 * cfg.num_blocks + 2


@pytest.mark.bf16
def test_bf16_folded_generator_stays_within_bf16_rounding_of_keras():
    cfg = ModelConfig(image_size=32, channels=3, ngf=16)
    generator = build_generator(cfg)
    rng = np.random.default_rng(2)
    for v in generator.weights:  # outputs spread over (-1, 1), where rounding shows
        v.assign(rng.normal(0, 0.25 if "kernel" in v.path else 0.1, v.shape))
    for layer in generator.layers:
        if layer.name.endswith("_bn"):
            layer.moving_variance.assign(rng.uniform(0.5, 2, layer.moving_variance.shape))
    z = rng.uniform(-1, 1, (16, cfg.z_dim)).astype("float32")
    expected = generator(z, training=False).numpy()
    assert expected.std() > 0.1
    folded = FoldedGenerator(generator, "bf16")
    got = folded(tf.constant(z))
    assert got.dtype == tf.float32
    assert {v.dtype for v in folded.trainable_variables} == {tf.bfloat16}
    err = np.abs(got.numpy() - expected)
    # bf16 keeps 8 significant bits (relative rounding 2**-9, 2e-3, per value); summed over
    # hundreds of products and four layers the errors average out to about 5e-4 here. A
    # wrong kernel layout would be off by the output's own scale (0.1+).
    assert err.mean() < 2e-3 and err.max() < 2e-2, (err.mean(), err.max())
    with pytest.raises(ValueError, match="precision"):
        FoldedGenerator(generator, "fp16")
