"""What a GAN part is: one departure from the paper's DCGAN, handed to the model in `parts`.

The base `DCGAN` trains the paper's objective. A part adds to it through the hooks below, each
a no-op here, so a part overrides only what it changes: an auxiliary loss term (`LossTerm`),
a transform of every image D sees (`InputTransform`), or work after each step (the generator
average). Each part module names its class in a module-level `PART`, which
`dcgan_tf.training.parts.discover` finds; `from_run` builds it from a run's configuration.
"""

import keras


class GANPart:
    """A departure from the paper's DCGAN that `DCGAN` receives in `parts`.

    Attributes:
        name: The part's name (`gan.part(name)` finds it).
        position: Where the part's D variables go in D's optimizer, which stores its slots by
            position: a new part takes a larger number than every existing one, so that
            checkpoints of older runs keep their slot order.
    """

    name = ""
    position = 0

    @classmethod
    def from_run(cls, model_cfg, train_cfg, new_generator):
        """Builds the part a run's configuration asks for, or `None` when it asks for none.

        Args:
            model_cfg: The run's `ModelConfig`.
            train_cfg: The run's `TrainConfig`.
            new_generator: A function returning a fresh generator of the run's shape.
        """
        return None

    def attach(self, gan):
        """Called once by the model's constructor (in its strategy scope), with G and D built."""

    def checkpoint_objects(self):
        """The objects a checkpoint stores for this part, by checkpoint key."""
        return {}

    def d_variables(self):
        """Variables that D's optimizer trains beside D's own (e.g. a head's)."""
        return []

    def metrics(self):
        """The part's loss trackers, logged beside D's and G's losses."""
        return []

    def after_train_step(self, gan):
        """Runs after G's update in every training step."""

    def before_checkpoint(self, gan, batches):
        """Runs before a checkpoint is written.

        Args:
            gan: The model.
            batches: A function of a stream number (>= 1) returning an iterable of the
                generator's input batches, drawn for that stream, e.g. to re-estimate batch norm.
        """

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class LossTerm(GANPart):
    """An auxiliary loss term: adds its weighted loss to D's objective, G's, or both.

    `d_loss` runs inside D's gradient tape on the real batch, `g_loss` inside G's on the
    generated one. Either returns the weighted scalar to add, or `None` for no term.
    """

    def d_loss(self, gan, images, labels):
        """D's term on real `images` (with their class `labels` in a conditional model)."""
        return None

    def g_loss(self, gan, images, labels):
        """G's term on generated `images` (with the classes they were drawn for)."""
        return None


class InputTransform(GANPart):
    """A random transform of every image D sees, real and generated, in both steps."""

    def transform(self, images, seed):
        """Transforms a batch with a stateless (2,) `seed`; the same seed, the same draw."""
        raise NotImplementedError


def with_labels(images, labels):
    """D's input: the images, with the class labels beside them in a conditional model."""
    return images if labels is None else [images, labels]


def serialize(model):
    """A network's Keras config, for a part's `get_config`."""
    return keras.saving.serialize_keras_object(model)


def deserialize(config):
    """The network `serialize` described, for a part's `from_config`."""
    return keras.saving.deserialize_keras_object(config)
