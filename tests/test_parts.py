"""The GAN from parts: the base model, its model types and each part on its own."""

import inspect

import keras
import numpy as np
import pytest
from keras import ops

from dcgan_tf.config import ModelConfig, TrainConfig
from dcgan_tf.training.parts.base import LossTerm

TINY = ModelConfig(image_size=32, channels=1, ngf=8, ndf=8)


def _images(n=8, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, 32, 32, 1)).astype("float32")


def _parameters(fn):
    return [p for p in inspect.signature(fn).parameters.values()
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name not in ("self", "cls")]


def test_model_constructors_take_six_arguments_and_functions_at_most_eight():
    from dcgan_tf.training import assemble, augment, checkpoint, conditional, gan, losses, semi
    from dcgan_tf.training.parts import base, contrastive, diffaugment, discover, ema, rotation

    for kind in (gan.DCGAN, conditional.ConditionalDCGAN, semi.SemiSupervisedDCGAN):
        assert len(_parameters(kind.__init__)) <= 6, kind
    modules = (assemble, augment, checkpoint, conditional, gan, losses, semi, base, contrastive,
               diffaugment, ema, rotation)
    too_many = []
    for module in modules:
        for name, value in vars(module).items():
            functions = [value]
            if inspect.isclass(value) and value.__module__ == module.__name__:
                functions = [f for f in vars(value).values() if inspect.isfunction(f)]
            for fn in functions:
                if inspect.isfunction(fn) and fn.__module__ == module.__name__ \
                        and len(_parameters(fn)) > 8:
                    too_many.append(f"{module.__name__}.{fn.__qualname__}")
    assert too_many == []
    assert [p.name for p in discover()] == ["rotation", "contrastive", "diffaugment", "ema"]


def test_the_configuration_picks_the_model_type_and_parts():
    from dcgan_tf.training.assemble import build_parts, model_type
    from dcgan_tf.training.conditional import ConditionalDCGAN
    from dcgan_tf.training.gan import DCGAN
    from dcgan_tf.training.models import build_generator
    from dcgan_tf.training.semi import SemiSupervisedDCGAN

    assert model_type(TINY) is DCGAN
    assert model_type(ModelConfig(num_classes=10)) is ConditionalDCGAN
    assert model_type(ModelConfig(labels=100, label_classes=10)) is SemiSupervisedDCGAN
    assert build_parts(TINY, TrainConfig(), lambda: build_generator(TINY)) == []
    every = TrainConfig(rotation_weight=1.0, rotation_weight_g=0.2, contrastive_weight=0.5,
                        diffaugment="translation", g_ema=0.99)
    built = build_parts(TINY, every, lambda: build_generator(TINY))
    assert [p.name for p in built] == ["rotation", "contrastive", "diffaugment", "ema"]
    assert (built[0].weight, built[0].g_weight, built[1].weight, built[2].policy,
            built[3].decay) == (1.0, 0.2, 0.5, "translation", 0.99)


def test_bad_parts_and_networks_are_refused_in_one_line():
    from dcgan_tf.training.conditional import ConditionalDCGAN
    from dcgan_tf.training.gan import DCGAN
    from dcgan_tf.training.models import build_discriminator, build_generator
    from dcgan_tf.training.parts.diffaugment import DiffAugment
    from dcgan_tf.training.parts.ema import GeneratorAverage
    from dcgan_tf.training.semi import SemiSupervisedDCGAN

    g, d = build_generator(TINY), build_discriminator(TINY)
    with pytest.raises(ValueError, match="conditional generator"):
        ConditionalDCGAN(g, d, 100)
    with pytest.raises(ValueError, match="semi-supervised discriminator"):
        SemiSupervisedDCGAN(g, d, 100)
    with pytest.raises(ValueError, match="at most one input transform"):
        DCGAN(g, d, 100, parts=[DiffAugment("flip"), _other_transform("color")])
    with pytest.raises(ValueError, match="hold GANParts"):
        DCGAN(g, d, 100, parts=["rotation"])
    with pytest.raises(ValueError, match="decay"):
        GeneratorAverage(1.0, build_generator(TINY))
    with pytest.raises(ValueError, match="at least one DiffAugment policy"):
        DiffAugment("")


def _other_transform(policy):
    from dcgan_tf.training.parts.diffaugment import DiffAugment

    part = DiffAugment(policy)
    part.name = "other"
    return part


class LogitPenalty(LossTerm):
    """A loss term written outside the library: weight * mean(D(x)^2) on real images."""

    name = "logit_penalty"
    position = 100

    def __init__(self, weight):
        self.weight = weight
        self.tracker = keras.metrics.Mean(name="d_logit_penalty")

    def metrics(self):
        return [self.tracker]

    def d_loss(self, gan, images, labels):
        penalty = ops.mean(ops.square(gan.discriminator(images, training=True)))
        self.tracker.update_state(penalty)
        return self.weight * penalty


def test_a_new_loss_term_trains_without_changing_the_model():
    from dcgan_tf.training.gan import DCGAN
    from dcgan_tf.training.models import build_discriminator, build_generator

    keras.utils.set_random_seed(0)
    g, d = build_generator(TINY), build_discriminator(TINY)
    gans = []
    for weight in (0.0, 10.0):
        gan = DCGAN(build_generator(TINY), build_discriminator(TINY), 100, seed=1,
                    parts=[LogitPenalty(weight)])
        gan.generator.set_weights(g.get_weights())
        gan.discriminator.set_weights(d.get_weights())
        gan.compile(d_optimizer=keras.optimizers.SGD(0.1), g_optimizer=keras.optimizers.SGD(0.1))
        gans.append(gan)
    x = _images(16)
    expected = np.mean(np.square(np.asarray(d(x, training=True), "float64")))
    logs = [gan.train_step(x) for gan in gans]
    for log in logs:
        np.testing.assert_allclose(float(log["d_logit_penalty"]), expected, rtol=1e-5)
        assert {"d_loss", "g_loss", "d_real", "d_fake"} <= set(log)
    # The term's weight reaches D's gradient: only the weighted model's D moved differently.
    moved = [np.concatenate([v.numpy().ravel() for v in gan.discriminator.trainable_variables])
             for gan in gans]
    assert not np.allclose(moved[0], moved[1])
    np.testing.assert_allclose(float(logs[0]["d_loss"]), float(logs[1]["d_loss"]), rtol=1e-6)


def test_rotation_term_is_its_heads_cross_entropy_on_rotated_images():
    from dcgan_tf.training.run import build_gan
    from dcgan_tf.training.models import with_last_features

    gan = build_gan(TINY, TrainConfig(precision="fp32", rotation_weight=2.0, rotation_weight_g=0.5))
    term = gan.part("rotation")
    x = _images(8)
    rotated = np.stack([np.rot90(img, k=i % 4, axes=(0, 1)) for i, img in enumerate(x)])
    _, last = with_last_features(gan.discriminator)(rotated, training=True)
    logits = np.asarray(term.head(last), "float64")
    shifted = logits - logits.max(1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    expected = -np.mean(log_softmax[np.arange(8), np.arange(8) % 4])
    np.testing.assert_allclose(float(term.d_loss(gan, x, None)), 2.0 * expected, rtol=1e-5)
    np.testing.assert_allclose(float(term.g_loss(gan, x, None)), 0.5 * expected, rtol=1e-5)
    assert set(gan.checkpoint_objects()) == {"generator", "discriminator", "rotation_head"}


def test_diffaugment_part_transforms_as_diff_augment():
    from dcgan_tf.training import augment
    from dcgan_tf.training.parts.diffaugment import DiffAugment

    x, seed = _images(4), np.array([3, 4])
    part = DiffAugment(" cutout,translation ")
    assert part.policy == "cutout,translation"
    np.testing.assert_array_equal(part.transform(x, seed),
                                  augment.diff_augment(x, "cutout,translation", seed))


def test_model_with_parts_round_trips_its_config():
    from dcgan_tf.training.run import build_gan
    from dcgan_tf.training.gan import DCGAN

    gan = build_gan(TINY, TrainConfig(precision="fp32", contrastive_weight=1.0,
                                      diffaugment="color", g_ema=0.5))
    again = DCGAN.from_config(gan.get_config())
    assert [p.name for p in again.parts] == ["contrastive", "diffaugment", "ema"]
    assert (again.part("contrastive").temperature, again.part("diffaugment").policy,
            again.part("ema").decay) == (0.5, "color", 0.5)
    assert len(again.part("ema").weights) == len(gan.generator.trainable_variables)


DECLARATIONS = {"dcgan_tf/config.py", "dcgan_tf/options.py"}


def _files_naming(names, roots=("dcgan_tf", "cli")):
    """Library files whose code (not strings or comments) uses one of `names`."""
    import io
    import os
    import tokenize

    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = set()
    for root in roots:
        for folder, _, files in os.walk(os.path.join(top, root)):
            for file in files:
                if not file.endswith(".py"):
                    continue
                path = os.path.join(folder, file)
                with open(path, encoding="utf-8") as f:
                    tokens = tokenize.generate_tokens(io.StringIO(f.read()).readline)
                    if any(t.type == tokenize.NAME and t.string in names for t in tokens):
                        found.add(os.path.relpath(path, top))
    return found


def test_the_generator_average_is_named_in_at_most_three_library_files():
    # What adding `--g-ema` touches: its part, its option's declaration, and (until the CLI
    # is generated from the declarations) its Click option. Reading the average back
    # (`export --generator ema`) is an option of its own.
    part = "dcgan_tf/training/parts/ema.py"
    files = _files_naming({"g_ema", "GeneratorAverage"})
    assert part in files and files - {part} <= DECLARATIONS, sorted(files)
    assert len(files) + len(_cli_declaring("--g-ema")) <= 3
    assert not files & {"dcgan_tf/training/gan.py", "dcgan_tf/training/assemble.py",
                        "dcgan_tf/training/checkpoint.py", "dcgan_tf/training/monitor.py",
                        "dcgan_tf/training/run.py"}


def _cli_declaring(flag):
    """cli/ files that declare `flag` by hand (`@click.option("--flag", ...)`)."""
    import glob
    import os

    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = []
    for path in glob.glob(os.path.join(top, "cli", "*.py")):
        with open(path, encoding="utf-8") as f:
            if f'click.option("{flag}"' in f.read():
                found.append(path)
    return found


@pytest.mark.parametrize("names,module", [
    ({"rotation_weight", "rotation_weight_g", "RotationLoss"}, "rotation"),
    ({"contrastive_weight", "contrastive_temperature", "ContrastiveLoss"}, "contrastive"),
])
def test_a_loss_term_is_named_only_by_its_module_and_its_declaration(names, module):
    # The declaration is the option's field in the configuration schema.
    part = f"dcgan_tf/training/parts/{module}.py"
    files = _files_naming(names)
    assert part in files and files - {part} <= DECLARATIONS, sorted(files)
