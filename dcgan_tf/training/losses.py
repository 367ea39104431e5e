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


def rotation_loss(rotation_logits, rotations):
    """Self-supervised rotation loss (Chen et al. 2019): softmax cross-entropy, per example.

    Args:
        rotation_logits: (N, 4) logits over 0, 90, 180 and 270 degrees.
        rotations: int (N,) true rotation indices in 0..3.

    Returns:
        The per-example loss (N,).
    """
    logits = ops.cast(rotation_logits, "float32")
    return ops.sparse_categorical_crossentropy(ops.reshape(rotations, (-1,)), logits,
                                               from_logits=True)


def contrastive_loss(a, b, temperature):
    """NT-Xent (SimCLR, Chen et al. 2020): each view must pick its partner among 2N - 1 others.

    Args:
        a, b: (N, D) projections of two views of the same N images (row i of each is a pair).
        temperature: Softmax temperature on the cosine similarities.

    Returns:
        The per-view loss (2N,): cross-entropy of view k's partner among the other views.
    """
    z = ops.normalize(ops.concatenate([ops.cast(a, "float32"), ops.cast(b, "float32")], axis=0))
    n2 = ops.shape(z)[0]
    # Cosine similarities; a view is not its own partner.
    logits = ops.matmul(z, ops.transpose(z)) / temperature - 1e9 * ops.eye(n2, dtype="float32")
    partner = (ops.arange(n2) + n2 // 2) % n2
    return ops.sparse_categorical_crossentropy(partner, logits, from_logits=True)


def supervised_loss(class_logits, labels):
    """Softmax cross-entropy of a semi-supervised D's K class logits (Salimans et al. 2016),
    per example.

    Args:
        class_logits: (N, K) logits of the real classes (the fake class's logit is 0).
        labels: int (N,) true classes in 0..K-1.
    """
    return ops.sparse_categorical_crossentropy(ops.reshape(labels, (-1,)),
                                               ops.cast(class_logits, "float32"), from_logits=True)


def unsupervised_loss(real_class_logits, fake_class_logits):
    """The K+1-class D's unsupervised loss (Salimans et al. 2016, section 5), per example pair.

    With the fake class's logit fixed at 0, D(x) = Z(x) / (Z(x) + 1) for Z(x) = sum_k
    exp(l_k(x)): the usual real/fake cross-entropy on the logit log Z(x), i.e.
    softplus(-lse(real)) + softplus(lse(fake)). Their code weights it by 1/2 beside the
    supervised term; the caller does.
    """
    real = ops.logsumexp(ops.cast(real_class_logits, "float32"), axis=-1)
    fake = ops.logsumexp(ops.cast(fake_class_logits, "float32"), axis=-1)
    return discriminator_loss(real, fake)


def feature_matching_loss(real_features, fake_features):
    """Feature matching for G (Salimans et al. 2016, section 3.1): the squared distance between
    the batch means of D's features on real and on generated images, averaged over features
    (their code's `mean(square(mean(f_real) - mean(f_fake)))`)."""
    real = ops.mean(ops.cast(real_features, "float32"), axis=0)
    fake = ops.mean(ops.cast(fake_features, "float32"), axis=0)
    return ops.mean(ops.square(real - fake))
