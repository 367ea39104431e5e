"""Model variants that only benchmarks build: switches kept out of the library.

`paired_d` runs D's step on real and fake through one convolution per layer
(`models.paired_discriminator`): the same computation as two calls, measured slower on CPUs
(`train_throughput.py`'s `*-paired` configurations). `fused_bn=False` builds Keras' own batch
norm instead of `fused_norm`'s (`*-keras` configurations, `auto_choices.py`).
"""

from dcgan_tf.training.assemble import build_parts, compile_gan, model_type
from dcgan_tf.training.gan import DCGAN
from dcgan_tf.training.models import (
    build_discriminator, build_generator, dtype_policy, paired_discriminator,
)
from dcgan_tf.training.hardware_plan import resolve_hardware
from dcgan_tf.training.run import precision_policy


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
