"""Model variants that only benchmarks build: switches kept out of the library.

`paired_d` runs D's step on real and fake through one convolution per layer
(`paired_discriminator`): the same computation as two calls, measured slower on CPUs
(`train_throughput.py`'s `*-paired` configurations). `fused_bn=False` builds Keras' own batch
norm instead of `fused_norm`'s (`*-keras` configurations, `auto_choices.py`).
"""

import keras
from keras import layers

from dcgan_tf.training.assemble import build_parts, compile_gan, model_type
from dcgan_tf.training.gan import DCGAN
from dcgan_tf.training.hardware_plan import resolve_hardware
from dcgan_tf.training.models import build_discriminator, build_generator, dtype_policy
from dcgan_tf.training.run import precision_policy


def paired_discriminator(discriminator):
    """D on a real and a fake batch with one convolution per layer, or `None` where it cannot.

    Convolutions, activations and the dense logit act on each sample alone; only batch norm
    couples the samples of a batch. So the two batches go through each convolution
    concatenated (GEMMs twice as tall, which the small layers need to fill the cores), and
    each half through batch norm on its own, in the order real then fake. Losses, gradients
    and moving statistics are those of two training-mode calls, `D(real)` then `D(fake)`.

    Args:
        discriminator: A D from `build_discriminator`.

    Returns:
        A function `(real, fake) -> (real_logits, fake_logits)` (training mode), or `None`
        for a D that is not a plain chain of layers (conditional) or whose layers update
        state per call (spectral normalisation's power iteration).
    """
    chain = discriminator.layers[1:]
    plain = all(len(layer._inbound_nodes) == 1 for layer in chain) and not any(
        isinstance(layer, layers.SpectralNormalization) for layer in chain
    )
    if len(discriminator.inputs) != 1 or not plain:
        return None
    for previous, layer in zip(discriminator.layers, chain):
        parents = layer._inbound_nodes[0].parent_nodes
        if len(parents) != 1 or parents[0].operation is not previous:
            return None

    def call(real, fake):
        n = keras.ops.shape(real)[0]
        x = keras.ops.concatenate([real, keras.ops.cast(fake, real.dtype)], axis=0)
        for layer in chain:
            if isinstance(layer, layers.BatchNormalization):
                x = keras.ops.concatenate(
                    [layer(x[:n], training=True), layer(x[n:], training=True)], axis=0
                )
            else:
                x = layer(x, training=True)
        return x[:n], x[n:]

    return call



class PairedDCGAN(DCGAN):
    """The paper's DCGAN whose D step pairs real and fake in each convolution where D allows."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._d_pair = paired_discriminator(self.discriminator)

    def discriminate_pair(self, real, fake, real_labels, fake_labels):
        if self._d_pair is None or real_labels is not None:
            return super().discriminate_pair(real, fake, real_labels, fake_labels)
        return self._d_pair(real, fake)


def build_variant(model_cfg, train_cfg, paired_d=False, kernel_grads=None, fused_bn=True):
    """`dcgan_tf.training.run.build_gan` with the benchmark-only switches.

    Args:
        model_cfg: The `ModelConfig`.
        train_cfg: The `TrainConfig`.
        paired_d: Build a `PairedDCGAN` (an unconditional, non-semi-supervised model only).
        kernel_grads: As `build_gan`'s.
        fused_bn: `False` builds Keras' own batch norm.
    """
    plan = resolve_hardware(train_cfg, kernel_grads=kernel_grads)
    precision, kernel_grads = plan.precision, plan.kernel_grads
    with dtype_policy(precision_policy(precision)):
        generator = build_generator(model_cfg, kernel_grads, fused_bn)
        discriminator = build_discriminator(model_cfg, kernel_grads, fused_bn)
        parts = build_parts(model_cfg, train_cfg,
                            lambda: build_generator(model_cfg, kernel_grads, fused_bn))
    kind = model_type(model_cfg)
    if paired_d:
        if kind is not DCGAN:
            raise ValueError(f"Expected an unconditional model with `paired_d`. Received: {kind.__name__}")
        kind = PairedDCGAN
    gan = kind(generator, discriminator, model_cfg.z_dim, model_cfg.z_dist, train_cfg.seed, parts)
    return compile_gan(gan, train_cfg, precision == "fp16", plan.jit)
