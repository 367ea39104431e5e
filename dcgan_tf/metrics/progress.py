"""Progress of the classifier space's training: one bar over all its steps, with an ETA.

Keras' own `verbose` output prints a line per epoch to stdout (where a command's report goes)
and no estimate for the whole training; this bar goes to stderr and counts every step of every
epoch, so the time left is the time left of the training.
"""

import keras
from tqdm import tqdm

BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} steps [{elapsed}<{remaining}{postfix}]"


class StepBar(keras.callbacks.Callback):
    """A tqdm bar over `total` training steps, with the running accuracy as its postfix.

    Args:
        total: Steps of the whole `fit` (epochs times steps per epoch).
        desc: The bar's label. Defaults to `"classifier space"`.
        file: Where the bar is written; `None` for stderr.
    """

    def __init__(self, total, desc="classifier space", file=None):
        super().__init__()
        self.total, self.desc, self.file = total, desc, file
        self.bar = None

    def on_train_begin(self, logs=None):
        self.bar = tqdm(total=self.total, desc=self.desc, unit="step", file=self.file,
                        bar_format=BAR_FORMAT, leave=False, dynamic_ncols=True)

    def on_train_batch_end(self, batch, logs=None):
        self.bar.update(1)
        if logs and "accuracy" in logs:
            self.bar.set_postfix_str(f"accuracy {float(logs['accuracy']):.3f}", refresh=False)

    def on_train_end(self, logs=None):
        if self.bar is not None:
            self.bar.close()
