"""The paper's architecture guidelines (section 3), checked on the built models."""

import os
import sys

import keras
import numpy as np
import pytest
from keras import layers

from dcgan_tf.config import ModelConfig
from dcgan_tf.training.models import (
    build_discriminator,
    build_feature_model,
    build_generator,
    feature_dim,
    pooled_features,
)

CONFIGS = [
    ModelConfig(image_size=32, channels=1, ngf=16, ndf=16),
    ModelConfig(image_size=64, channels=3, ngf=16, ndf=16, kernel_size=5),
    ModelConfig(image_size=128, channels=3, ngf=8, ndf=8),
]


def _kinds(model, kind):
    return [l for l in model.layers if isinstance(l, kind)]


def _next_layer(model, layer):
    names = [l.name for l in model.layers]
    return model.layers[names.index(layer.name) + 1]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.image_size}x{c.channels}")
def test_generator_follows_guidelines(cfg):
    g = build_generator(cfg)
    assert g.output_shape == (None, cfg.image_size, cfg.image_size, cfg.channels)
    assert not [l for l in g.layers if "pool" in type(l).__name__.lower()]
    # One projection matrix multiply, no hidden dense layers.
    dense = _kinds(g, layers.Dense)
    assert len(dense) == 1 and dense[0].units == 4 * 4 * 8 * cfg.ngf * cfg.image_size // 64
    deconvs = _kinds(g, layers.Conv2DTranspose)
    assert len(deconvs) == int(np.log2(cfg.image_size // 4))
    assert all(d.strides == (2, 2) and d.kernel_size == (cfg.kernel_size,) * 2 for d in deconvs)
    # BN + ReLU after every hidden layer, none on the output, which is tanh.
    for hidden in [dense[0], *deconvs[:-1]]:
        after = _next_layer(g, hidden)
        if isinstance(after, layers.Reshape):
            after = _next_layer(g, after)
        assert isinstance(after, layers.BatchNormalization)
        assert isinstance(_next_layer(g, after), layers.ReLU)
    out = _next_layer(g, deconvs[-1])
    assert isinstance(out, layers.Activation) and out.get_config()["activation"] == "tanh"
    assert len(_kinds(g, layers.BatchNormalization)) == len(deconvs)
    # Widths halve each block: 32x32 ngf=64 gives 4x4x256 -> 8x8x128 -> 16x16x64.
    assert [d.filters for d in deconvs[:-1]] == [
        cfg.ngf * 2 ** (len(deconvs) - 2 - i) for i in range(len(deconvs) - 1)
    ]
    z = np.random.default_rng(0).uniform(-1, 1, (4, cfg.z_dim)).astype("float32")
    images = keras.ops.convert_to_numpy(g(z, training=False))
    assert images.min() >= -1 and images.max() <= 1


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.image_size}x{c.channels}")
def test_discriminator_follows_guidelines(cfg):
    d = build_discriminator(cfg)
    assert d.input_shape == (None, cfg.image_size, cfg.image_size, cfg.channels)
    assert d.output_shape == (None, 1)
    assert not [l for l in d.layers if "pool" in type(l).__name__.lower()]
    convs = _kinds(d, layers.Conv2D)
    assert len(convs) == int(np.log2(cfg.image_size // 4))
    assert all(c.strides == (2, 2) for c in convs)
    # No BN after the input layer; BN then LeakyReLU(0.2) after the others.
    assert isinstance(_next_layer(d, convs[0]), layers.LeakyReLU)
    for c in convs[1:]:
        assert isinstance(_next_layer(d, c), layers.BatchNormalization)
    relus = _kinds(d, layers.LeakyReLU)
    assert len(relus) == len(convs) and all(r.negative_slope == pytest.approx(0.2) for r in relus)
    # The only dense layer is the single logit on the flattened last conv layer.
    dense = _kinds(d, layers.Dense)
    assert len(dense) == 1 and dense[0].units == 1
    assert isinstance(_next_layer(d, relus[-1]), layers.Flatten)


def test_weights_start_from_normal_0_002():
    cfg = ModelConfig(image_size=64, channels=3, ngf=32, ndf=32)
    for model in (build_generator(cfg), build_discriminator(cfg)):
        kernels = np.concatenate(
            [l.kernel.numpy().ravel() for l in model.layers if hasattr(l, "kernel")]
        )
        assert abs(kernels.mean()) < 1e-3
        assert kernels.std() == pytest.approx(0.02, rel=0.05)


def test_pooled_features_match_numpy_max_pool():
    cfg = ModelConfig(image_size=32, channels=3, ndf=8)
    d = build_discriminator(cfg)
    images = np.random.default_rng(1).uniform(-1, 1, (3, 32, 32, 3)).astype("float32")
    acts = [keras.ops.convert_to_numpy(a) for a in build_feature_model(d, cfg)(images)]
    expected = []
    for a in acts:
        n, h, w, c = a.shape
        k = h // 4
        expected.append(a.reshape(n, 4, k, 4, k, c).max(axis=(2, 4)).reshape(n, -1))
    got = keras.ops.convert_to_numpy(pooled_features(acts))
    np.testing.assert_allclose(got, np.concatenate(expected, axis=1), rtol=1e-6)
    assert got.shape == (3, feature_dim(cfg)) and feature_dim(ModelConfig()) == 7168


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"image_size": 48}, "power of 2 >= 32"),
        ({"image_size": 16}, r"in \[32, 4096\]"),
        ({"channels": 2}, "channels"),
        ({"kernel_size": 3}, "kernel_size"),
        ({"z_dist": "cauchy"}, "z_dist"),
    ],
)
def test_bad_model_config_is_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ModelConfig(**kwargs)


@pytest.mark.parametrize("diffaugment", ["", "translation,cutout"])
def test_paired_discriminator_step_equals_two_calls(diffaugment):
    """D on real and fake through one convolution per layer: the two-call step's numbers."""
    import tensorflow as tf

    from dcgan_tf.config import TrainConfig

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "benchmarks"))
    from variants import build_variant  # A benchmark-only variant.

    cfg = ModelConfig(image_size=32, channels=3, ngf=8, ndf=8)
    train_cfg = TrainConfig(precision="fp32", batch_size=16, seed=3, diffaugment=diffaugment)
    keras.utils.set_random_seed(0)
    paired = build_variant(cfg, train_cfg, paired_d=True)
    two = build_variant(cfg, train_cfg, paired_d=False)
    assert paired._d_pair is not None and not hasattr(two, "_d_pair")
    _plain_sgd(paired, two)
    for net in ("generator", "discriminator"):
        getattr(two, net).set_weights(getattr(paired, net).get_weights())
    x = np.random.default_rng(0).uniform(-1, 1, (16, 32, 32, 3)).astype("float32")
    for _ in range(2):  # The second step starts from moving statistics and Adam state.
        a, b = tf.function(paired.train_step)(x), tf.function(two.train_step)(x)
        for key in ("d_loss", "g_loss", "d_real", "d_fake"):
            np.testing.assert_allclose(float(a[key]), float(b[key]), rtol=1e-5, atol=1e-6)
    # Equal weights after two SGD steps means equal gradients; equal moving statistics
    # means batch norm saw the same halves in the same order.
    for net in ("generator", "discriminator"):
        for u, v in zip(getattr(paired, net).variables, getattr(two, net).variables):
            np.testing.assert_allclose(u.numpy(), v.numpy(), rtol=1e-4, atol=1e-5, err_msg=u.path)


def _plain_sgd(*gans):
    """Plain SGD instead of Adam, whose first steps move every weight by about +-lr whatever
    the gradient's size, so float rounding of a near-zero gradient would look like a bug."""
    for gan in gans:
        gan.compile(d_optimizer=keras.optimizers.SGD(0.05), g_optimizer=keras.optimizers.SGD(0.05))


def test_paired_discriminator_declines_conditional_and_spectral_norm():
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "benchmarks"))
    from variants import paired_discriminator  # A benchmark-only variant.

    assert paired_discriminator(build_discriminator(CONFIGS[0])) is not None
    for kwargs in ({"num_classes": 10}, {"spectral_norm": True}):
        cfg = ModelConfig(image_size=32, channels=1, ngf=8, ndf=8, **kwargs)
        assert paired_discriminator(build_discriminator(cfg)) is None


@pytest.mark.parametrize("method", ["patches", "dilated"])
@pytest.mark.parametrize("size,kernel", [(6, 4), (8, 4), (7, 3)])
def test_rewritten_kernel_gradients_match_numpy(method, size, kernel):
    """Each `KERNEL_GRADIENTS` rewrite against the definition, stride 2, "SAME":
    dW[a,b,c,o] = sum x_pad[n,2i+a,2j+b,c] dy[n,i,j,o] (odd sizes pad more after than before)."""
    from dcgan_tf.training.patch_grads import KERNEL_GRADIENTS

    rng = np.random.default_rng(0)
    out = -(-size // 2)
    x, dy = rng.normal(size=(2, size, size, 3)), rng.normal(size=(2, out, out, 4))
    total = max((out - 1) * 2 + kernel - size, 0)
    pad = (total // 2, total - total // 2)
    padded = np.pad(x, ((0, 0), pad, pad, (0, 0)))
    want = np.zeros((kernel, kernel, 3, 4))
    for a in range(kernel):
        for b in range(kernel):
            window = padded[:, a:a + 2 * out:2, b:b + 2 * out:2, :]
            want[a, b] = np.einsum("nijc,nijo->co", window, dy)
    got = KERNEL_GRADIENTS[method](x.astype("float32"), dy.astype("float32"), kernel, 2).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cfg,kernel_grads,patched_layers", [
    (ModelConfig(image_size=32, channels=3, ngf=8, ndf=8), "patches", 1),
    (ModelConfig(image_size=32, channels=1, ngf=8, ndf=8, num_classes=3), "patches", 1),
    (ModelConfig(image_size=32, channels=3, ngf=8, ndf=8), "dilated", 2),
], ids=["plain", "conditional", "dilated"])
def test_kernel_grad_layers_train_like_keras_layers(cfg, kernel_grads, patched_layers):
    """The small-image layers with a rewritten kernel gradient (in G and D, the layers up to
    8x8 for `patches` and up to 16x16 for `dilated`): the same step as Keras' own layers."""
    import tensorflow as tf

    from dcgan_tf.config import TrainConfig
    from dcgan_tf.training.patch_grads import PatchGradConv2D, PatchGradConv2DTranspose
    from dcgan_tf.training.run import build_gan

    train_cfg = TrainConfig(precision="fp32", batch_size=8, seed=3)
    keras.utils.set_random_seed(0)
    patched = build_gan(cfg, train_cfg, kernel_grads=kernel_grads)
    plain = build_gan(cfg, train_cfg, kernel_grads="native")
    _plain_sgd(patched, plain)
    kinds = [type(layer) for net in (patched.generator, patched.discriminator) for layer in net.layers]
    assert kinds.count(PatchGradConv2D) == patched_layers
    assert kinds.count(PatchGradConv2DTranspose) == patched_layers
    assert not {PatchGradConv2D, PatchGradConv2DTranspose} & {
        type(layer) for net in (plain.generator, plain.discriminator) for layer in net.layers}
    for net in ("generator", "discriminator"):
        getattr(plain, net).set_weights(getattr(patched, net).get_weights())
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (8, cfg.image_size, cfg.image_size, cfg.channels)).astype("float32")
    data = (x, rng.integers(0, cfg.num_classes, (8,)).astype("int32")) if cfg.num_classes else x
    for _ in range(2):
        a, b = tf.function(patched.train_step)(data), tf.function(plain.train_step)(data)
        for key in ("d_loss", "g_loss"):
            np.testing.assert_allclose(float(a[key]), float(b[key]), rtol=1e-5, atol=1e-6)
    for net in ("generator", "discriminator"):
        for u, v in zip(getattr(patched, net).variables, getattr(plain, net).variables):
            np.testing.assert_allclose(u.numpy(), v.numpy(), rtol=1e-4, atol=1e-5, err_msg=u.path)


def test_checkpoint_moves_between_cpu_kinds(tmp_path):
    """A run checkpointed where `auto` picks one kernel gradient (an AMX Xeon: patches) resumes
    where it picks another (an EPYC: dilated, on more layers) with every weight restored."""
    import tensorflow as tf

    from dcgan_tf.config import TrainConfig
    from dcgan_tf.training import checkpoint
    from dcgan_tf.training.run import build_gan

    cfg = ModelConfig(image_size=32, channels=1, ngf=8, ndf=8)
    train_cfg = TrainConfig(precision="fp32", batch_size=8)
    saved = build_gan(cfg, train_cfg, kernel_grads="patches")
    x = np.random.default_rng(0).uniform(-1, 1, (8, 32, 32, 1)).astype("float32")
    tf.function(saved.train_step)(x)
    path = checkpoint.save(saved, str(tmp_path), 1, 1)
    resumed = build_gan(cfg, train_cfg, kernel_grads="dilated")
    checkpoint.restore(resumed, path)
    for net in ("generator", "discriminator"):
        for u, v in zip(getattr(saved, net).weights, getattr(resumed, net).weights):
            np.testing.assert_array_equal(u.numpy(), v.numpy(), err_msg=u.path)


@pytest.mark.parametrize("dtype", ["float32", pytest.param("mixed_bfloat16", marks=pytest.mark.bf16)])
def test_fused_batchnorm_matches_numpy_and_keras(dtype):
    """Training-mode output and moving statistics against NumPy; gradients against Keras' layer."""
    import tensorflow as tf

    from dcgan_tf.fused_norm import FusedBatchNormalization

    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, (6, 5, 5, 4)).astype("float32")
    fused = FusedBatchNormalization(momentum=0.8, epsilon=1e-5, dtype=dtype,
                                    gamma_initializer="random_normal", beta_initializer="random_normal")
    plain = layers.BatchNormalization(momentum=0.8, epsilon=1e-5, dtype=dtype)
    fused.build(x.shape), plain.build(x.shape)
    plain.set_weights(fused.get_weights())
    gamma, beta = fused.gamma.numpy(), fused.beta.numpy()
    xin = tf.cast(x, fused.compute_dtype)
    upstream = tf.constant(rng.normal(size=x.shape), "float32")
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(xin)
        y_fused, y_plain = fused(xin, training=True), plain(xin, training=True)
        losses = [tf.reduce_sum(tf.cast(y, "float32") * upstream) for y in (y_fused, y_plain)]
    tol = dict(rtol=2e-2, atol=5e-2) if dtype == "mixed_bfloat16" else dict(rtol=1e-5, atol=1e-5)
    xq = tf.cast(xin, "float32").numpy()  # What the layer saw, after any bf16 rounding.
    mean, var = xq.mean(axis=(0, 1, 2)), xq.var(axis=(0, 1, 2))
    want = gamma * (xq - mean) / np.sqrt(var + 1e-5) + beta
    np.testing.assert_allclose(tf.cast(y_fused, "float32").numpy(), want, **tol)
    np.testing.assert_allclose(fused.moving_mean.numpy(), 0.2 * mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fused.moving_variance.numpy(), 0.8 + 0.2 * var, rtol=1e-5, atol=1e-6)
    grads = [tape.gradient(loss, [xin, layer.gamma, layer.beta])
             for loss, layer in zip(losses, (fused, plain))]
    for got, ref in zip(*grads):
        np.testing.assert_allclose(tf.cast(got, "float32").numpy(), tf.cast(ref, "float32").numpy(), **tol)
    # Inference is Keras' own path on the moving statistics.
    np.testing.assert_allclose(fused(x).numpy(), plain(x).numpy(), rtol=1e-6, atol=1e-6)
