"""GAN objectives on logits (binary cross-entropy, TF-GAN naming), as pure functions."""

from keras import ops


def _bce_with_logits(labels, logits):
    # Numerically stable sigmoid cross-entropy, per example.
    return ops.maximum(logits, 0) - logits * labels + ops.log1p(ops.exp(-ops.abs(logits)))


def discriminator_loss(real_logits, fake_logits):
    """D maximises log D(x) + log(1 - D(G(z))): BCE with targets 1 for real, 0 for fake.

    Returns the per-example loss (N,), to be averaged by the caller.
    """
    real_logits = ops.cast(ops.reshape(real_logits, (-1,)), "float32")
    fake_logits = ops.cast(ops.reshape(fake_logits, (-1,)), "float32")
    return _bce_with_logits(ops.ones_like(real_logits), real_logits) + _bce_with_logits(
        ops.zeros_like(fake_logits), fake_logits
    )


def generator_loss(fake_logits):
    """Non-saturating G loss: G maximises log D(G(z)) (Goodfellow et al. 2014, section 3).

    Returns the per-example loss (N,).
    """
    fake_logits = ops.cast(ops.reshape(fake_logits, (-1,)), "float32")
    return _bce_with_logits(ops.ones_like(fake_logits), fake_logits)
