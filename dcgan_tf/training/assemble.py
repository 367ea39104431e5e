"""Assembling a run's model: its type, its networks and parts, and its optimizers."""

import dataclasses

import keras

from dcgan_tf.data import datasets as data
from dcgan_tf.data import splits
from dcgan_tf.training import checkpoint, parts
from dcgan_tf.training.conditional import ConditionalDCGAN
from dcgan_tf.training.errors import TrainingError
from dcgan_tf.training.gan import DCGAN
from dcgan_tf.training.models import build_discriminator, build_generator, dtype_policy
from dcgan_tf.training.semi import SemiSupervisedDCGAN


def model_type(model_cfg):
    """The model class a configuration trains: the paper's, the conditional or the K+1 one."""
    if model_cfg.semi_supervised:
        return SemiSupervisedDCGAN
    if model_cfg.num_classes:
        return ConditionalDCGAN
    return DCGAN


def build_parts(model_cfg, train_cfg, new_generator):
    """The parts (`dcgan_tf.training.parts`) a run's configuration asks for, in their order.

    Args:
        model_cfg: The run's `ModelConfig`.
        train_cfg: The run's `TrainConfig`.
        new_generator: A function returning a fresh generator of the run's shape.
    """
    built = (part.from_run(model_cfg, train_cfg, new_generator) for part in parts.discover())
    return [part for part in built if part is not None]


def compile_gan(gan, train_cfg, loss_scale, jit):
    """Compiles `gan` with the paper's Adam for D and G and creates their slot variables.

    Args:
        gan: A `DCGAN`.
        train_cfg: Its run's `TrainConfig` (learning rates and beta1).
        loss_scale: Whether the optimizers scale the losses (fp16).
        jit: Whether Keras compiles the step with XLA.

    Returns:
        `gan`, compiled.
    """
    def adam(lr):
        opt = keras.optimizers.Adam(lr, beta_1=train_cfg.beta1)
        return keras.optimizers.LossScaleOptimizer(opt) if loss_scale else opt

    gan.compile(d_optimizer=adam(train_cfg.d_learning_rate),
                g_optimizer=adam(train_cfg.g_learning_rate), jit_compile=jit)
    checkpoint.build_optimizers(gan)
    return gan


def assemble_gan(model_cfg, train_cfg, policy, kernel_grads, jit):
    """Builds and compiles a run's model in the current strategy scope, with hardware chosen.

    Layers take the dtype `policy` when they are built; the global policy is restored
    afterwards, so nothing else in the process changes precision.

    Args:
        model_cfg: The run's `ModelConfig`: the model type and the networks' shape.
        train_cfg: The run's `TrainConfig`: the parts, the optimizers and the seed.
        policy: Keras dtype policy, e.g. `"float32"` or `"mixed_bfloat16"`;
            `"mixed_float16"` scales the losses.
        kernel_grads: The small-image layers' kernel gradient (`models.KERNEL_GRAD_SIDES`).
        jit: Whether Keras compiles the step with XLA.

    Returns:
        A compiled `DCGAN` (or subclass) with built optimizers.
    """
    with dtype_policy(policy):
        generator = build_generator(model_cfg, kernel_grads)
        discriminator = build_discriminator(model_cfg, kernel_grads)
        found = build_parts(model_cfg, train_cfg, lambda: build_generator(model_cfg, kernel_grads))
    gan = model_type(model_cfg)(generator, discriminator, model_cfg.z_dim, model_cfg.z_dist,
                                train_cfg.seed, found)
    return compile_gan(gan, train_cfg, policy == "mixed_float16", jit)


def with_label_classes(model_cfg, train_cfg):
    """`model_cfg` with K filled in from the dataset, for a semi-supervised D."""
    if model_cfg is None or not model_cfg.labels or model_cfg.label_classes:
        return model_cfg
    classes = data.load_split(train_cfg.dataset, "train", train_cfg.data_dir,
                              train_cfg.verify).num_classes if train_cfg.dataset in \
        data.IN_MEMORY_DATASETS else None
    if not classes:
        raise TrainingError(
            f"--labels needs a labelled in-memory dataset; {train_cfg.dataset} "
            f"({train_cfg.data_dir}) has no class labels to draw them from."
        )
    return dataclasses.replace(model_cfg, label_classes=int(classes))


def labelled_indices(model_cfg, train_cfg):
    """The training-split indices a semi-supervised run trains with labels: the probe's draw 0
    (`dcgan_tf.data.splits.labelled_subset`) for the run's `labels`, `label_seed` and
    `label_validation`; `None` for an unsupervised run."""
    if not model_cfg.semi_supervised:
        return None
    train = data.load_split(train_cfg.dataset, "train", train_cfg.data_dir, train_cfg.verify)
    try:
        chosen, _ = splits.labelled_subset(train.labels, train.num_classes, model_cfg.labels,
                                           model_cfg.label_seed, model_cfg.label_validation)
    except splits.SplitError as e:
        raise TrainingError(str(e)) from None
    return chosen
