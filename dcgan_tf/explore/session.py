"""What the explore app computes, without Gradio: one object per opened model.

Each method is one panel's answer and calls the library the commands use: z from seeds as
`dcgan-tf sample` draws it (`investigations.common.grid_z`), walks and arithmetic from
`investigations.latent`, D's features from `investigations.nearest` and the probe's cached
extraction, the run's curves from `explore.run_info`. Seeds name samples everywhere: seed
`s` is cell `s` of `dcgan-tf sample --seed 0`, so a pick here can be passed to `dcgan-tf
interpolate --walk` or `dcgan-tf arithmetic --concept`.
"""

import dataclasses

import numpy as np
from sklearn.neighbors import NearestNeighbors

from dcgan_tf.contract import GENERATE
from dcgan_tf.data.crop import prepare_images
from dcgan_tf.explore import run_info
from dcgan_tf.investigations.common import (
    InvestigateError, generate, grid_z, open_savedmodel, rows_grid,
)
from dcgan_tf.investigations.latent import (
    METHODS, check_concepts, combine, lerp, parse_expression, slerp, walk,
)
from dcgan_tf.investigations.nearest import features_of, load_images
from dcgan_tf.paths import cache_root
from dcgan_tf.probe.run import extract_features
from dcgan_tf.serving.clients import open_client

# Signatures every panel but the discriminator's needs.
NEEDED = ("sample", GENERATE)


@dataclasses.dataclass(frozen=True)
class ExploreConfig:
    """What `dcgan-tf explore` opens.

    Args:
        model: A SavedModel version or model directory; or `None` with `server`.
        server: TF Serving, `http(s)://host:port` (REST) or `grpc://host:port`.
        name: The served model's name (with `server`).
        version: The served version; `None` for the newest.
        run_dir: The training run (metrics curves); `None` looks for `runs/<export name>`.
        dataset: Training data of the nearest-image index; `None` for the export's.
        data_dir: Where its files are (as for `dcgan-tf train`).
        index_size: Training images in the nearest-image index (a seeded random subset; 0:
            all). Defaults to 2000.
        cache_dir: Where a local model's index features are cached; `None` for the probe's
            default cache (`~/.cache/dcgan-tf`).
        timeout: Seconds to wait for `server`. Defaults to 30.
    """

    model: str | None = None
    server: str | None = None
    name: str | None = None
    version: int | None = None
    run_dir: str | None = None
    dataset: str | None = None
    data_dir: str | None = None
    index_size: int = 2000
    cache_dir: str | None = None
    timeout: float = 30.0


def open_model(cfg):
    """`(client, metadata)` of `cfg.model` (through the export reader) or of `cfg.server`.

    Raises:
        InvestigateError, ServingError: not a usable export or server (one line each).
    """
    if cfg.model is not None:
        if cfg.server is not None:
            raise InvestigateError("Pass either --model or --server, not both.")
        return open_savedmodel(cfg.model, NEEDED)

    client = open_client(server=cfg.server, name=cfg.name, version=cfg.version, timeout=cfg.timeout)
    missing = [s for s in NEEDED if s not in client.signatures()]
    if missing:
        raise InvestigateError(
            f"{cfg.name} on {cfg.server} has no {', '.join(missing)} signature: serve an export "
            "of `dcgan-tf export`."
        )
    return client, client.metadata()


class Explorer:
    """One model opened for the app; every method answers one panel.

    Args:
        cfg: An `ExploreConfig`.

    Raises:
        InvestigateError, ServingError: the model or server is not usable; the first sample
            is drawn here, so a model that loads but fails to run is reported at start.
    """

    def __init__(self, cfg):
        self.cfg = cfg
        self.client, self.metadata = open_model(cfg)
        self.client.sample(np.zeros([1], np.int64))  # Loads the model: fail now, not in a panel.
        self.run_dir = run_info.find_run(self.metadata, cfg.run_dir)
        self._index = None

    @property
    def channels(self):
        return int(self.metadata["channels"])

    @property
    def has_discriminator(self):
        return {"discriminate", "features"} <= set(self.client.signatures())

    def z(self, seeds):
        """z (len(seeds), z_dim) of samples `seeds`, as the export's `sample` draws them."""
        return grid_z(self.client, check_seeds(seeds))

    def samples(self, first_seed, n):
        """`(pixels, seeds)`: uint8 (n, H, W, C) of seeds `first_seed .. first_seed + n - 1`."""
        first, n = _integer(first_seed, "first seed"), _integer(n, "samples")
        if not 0 <= first <= MAX_SEED or not 1 <= n <= MAX_SEED - first + 1:
            raise InvestigateError(
                f"Expected seeds in [0, {MAX_SEED}] (as `dcgan-tf sample --seed`): the first "
                f"seed in [0, {MAX_SEED}] and at least 1 sample, ending by {MAX_SEED}. "
                f"Received: first seed {first}, {n} samples")
        seeds = list(range(first, first + n))
        return generate(self.client, self.z(seeds)), seeds

    def walk(self, seed_a, seed_b, method="linear", steps=8):
        """Frames uint8 (steps, H, W, C) of a walk from sample `seed_a` to `seed_b`, ends included."""
        return generate(self.client, walk(self.z([seed_a, seed_b]), int(steps), method))

    def frame(self, seed_a, seed_b, method="linear", t=0.5):
        """The one frame at `t` in [0, 1] of that walk: uint8 (H, W, C)."""
        if method not in METHODS:
            raise InvestigateError(f"Expected `method` in {METHODS}. Received: method={method!r}")
        if not 0.0 <= float(t) <= 1.0:
            raise InvestigateError(f"Expected `t` in [0, 1]. Received: t={t}")
        z0, z1 = self.z([seed_a, seed_b])
        return generate(self.client, (lerp if method == "linear" else slerp)(z0, z1, [float(t)]))[0]

    def arithmetic(self, groups, expression, noise=0.25, neighbours=8, noise_seed=0):
        """The paper's vector arithmetic over groups of picked samples (Figure 7).

        Args:
            groups: Dict name -> seeds (3 exemplars in the paper); each concept is their mean z.
            expression: E.g. `"A - B + C"` over the names of `groups`.
            noise: Half-width of the neighbours' uniform noise. Defaults to 0.25.
            neighbours: Neighbours decoded beside the result. Defaults to 8.
            noise_seed: Seed of that noise. Defaults to 0.

        Returns:
            Dict with `figure` (a row per group: exemplars, a gap, the decoded mean; last row:
            the result, a gap, its neighbours), `result` uint8 (1 + neighbours, H, W, C) (the
            result first), `result_z` float32 (z_dim,) and `neighbour_z`.
        """
        terms = parse_expression(expression)
        check_concepts(groups, terms)
        means, rows = {}, []
        for name, seeds in groups.items():
            z = self.z(seeds)
            means[name] = z.mean(axis=0)
            rows.append(generate(self.client, np.concatenate([z, means[name][None]])))
        noise_seed = check_seeds([noise_seed], "noise seed")[0]
        result, around = combine(means, terms, noise, int(neighbours), noise_seed)
        decoded = generate(self.client, np.concatenate([result[None], around]))
        gaps = [(len(r) - 2,) for r in rows] + [(0,)]
        return {"figure": rows_grid(rows + [decoded], row_gaps=gaps), "result": decoded,
                "result_z": result, "neighbour_z": around}

    def prepare(self, image):
        """An uploaded image (H, W) or (H, W, C) uint8 at the model's size and channels."""

        image = np.asarray(image)
        if image.ndim == 3 and image.shape[-1] == 4:
            image = image[..., :3]  # PNGs with alpha: D never saw transparency.
        return prepare_images(image[None], int(self.metadata["image_size"]), self.channels)

    def discriminate(self, image):
        """D's probability that `image` (uint8, any size) is a training image."""
        self._needs_discriminator()
        return float(self.client.discriminate(self.prepare(image))["probability"][0])

    def training_images(self):
        """The index's training images, uint8 (N, H, W, C): a seeded subset of the train split."""
        return self.index()[0]

    def index(self):
        """`(images, features, neighbours)`: the nearest-image index in D's feature space.

        Built on first use. A local model's features come from the probe's extraction,
        cached on disk per model and images (`~/.cache/dcgan-tf/features`), so a restart
        reads them back; a served model's are computed once per session.
        """
        if self._index is None:

            self._needs_discriminator()
            dataset = self.cfg.dataset or self.metadata.get("dataset")
            if not dataset:
                raise InvestigateError("The export records no dataset: pass --dataset (and --data-dir).")
            images = load_images(dataset, "train", self.cfg.data_dir, int(self.metadata["image_size"]),
                                 self.channels)
            if self.cfg.index_size and len(images) > self.cfg.index_size:
                rng = np.random.default_rng(0)
                images = images[np.sort(rng.choice(len(images), self.cfg.index_size, replace=False))]
            if self.cfg.model is not None:

                features = extract_features(self.client.path, images,
                                            cache_dir=cache_root(self.cfg.cache_dir),
                                            tag=f"{dataset}-train-explore")
            else:
                features = features_of(self.client, images)
            self._index = (images, features, NearestNeighbors().fit(features))
        return self._index

    def nearest(self, image, k=8):
        """`(pixels, indices, distances)` of the `k` training images nearest `image` in D's features."""
        images, _, neighbours = self.index()
        query = features_of(self.client, self.prepare(image))
        distances, indices = neighbours.kneighbors(query, n_neighbors=min(int(k), len(images)))
        return images[indices[0]], indices[0], distances[0]

    def run_summary(self):
        """`(summary dict, curves image or None)` of the training run (see `run_info`)."""
        rows = run_info.read_metrics(self.run_dir) if self.run_dir else []
        return run_info.summary(self.metadata, rows), run_info.curves(rows)

    def _needs_discriminator(self):
        if not self.has_discriminator:
            raise InvestigateError(
                "This export has no `discriminate`/`features` signatures: re-export it with "
                "`dcgan-tf export` to use the discriminator panel."
            )


MAX_SEED = 2**31 - 1  # `dcgan-tf sample --seed`'s range, so every pick can be passed to it.


def _integer(value, name):
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise InvestigateError(f"Expected an integer {name}. Received: {value!r}") from None
    if number != value and not isinstance(value, str):
        raise InvestigateError(f"Expected an integer {name}. Received: {value!r}")
    return number


def check_seeds(seeds, name="seed"):
    """Seeds as ints, each in [0, `MAX_SEED`].

    Raises:
        InvestigateError: a seed that is not an integer or lies outside the range; the
            message states the range.
    """
    seeds = [_integer(s, name) for s in seeds]
    bad = [s for s in seeds if not 0 <= s <= MAX_SEED]
    if bad:
        raise InvestigateError(f"Expected every {name} in [0, {MAX_SEED}] (as `dcgan-tf sample "
                               f"--seed`). Received: {bad[0]}")
    return seeds


def describe(explorer):
    """One line naming what is open: model or server, dataset, step, z."""
    meta = explorer.metadata
    if explorer.cfg.model is not None:
        where = explorer.client.path
    else:
        where = f"{explorer.cfg.name} on {explorer.cfg.server}"
    return (f"{where}: {meta.get('dataset', '?')} {meta.get('image_size')}x{meta.get('image_size')}"
            f"x{meta.get('channels')}, step {meta.get('step', '?')}, z {meta.get('z_dim')} "
            f"{meta.get('z_dist')}")
