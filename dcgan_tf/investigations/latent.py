"""Walks and vector arithmetic in z (paper section 6.1 and 6.3), on an exported SavedModel.

Interpolation: smooth transitions between the images of consecutive z along a walk are the
paper's evidence that the generator has not memorised training images (a memorising model
would jump from one stored image to the next). The smoothness figure makes that a number:
the pixel distance between consecutive frames relative to the distance between two random
samples. Arithmetic: a concept is the mean z of a few exemplars (3 in the paper); an
expression of concepts (`A - B + C`) is decoded together with 8 neighbours, z plus uniform
noise of +-0.25, as in the paper's Figure 7.
"""

import re
import time

import numpy as np

from dcgan_tf.atomic import check_dir_writable
from dcgan_tf.charts import line_chart
from dcgan_tf.investigations.common import (
    InvestigateError, generate, grid_z, load_z_file, open_savedmodel, rows_grid,
    write_report,
)
from dcgan_tf.investigations.configs import METHODS, ArithmeticConfig, InterpolateConfig

# Random pairs whose mean distance is the smoothness reference; seeds far above any grid.
_BASELINE_SEED = 1 << 40
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_TERM = re.compile(rf"\s*([+-])?\s*(?:(\d+(?:\.\d*)?|\.\d+)\s*\*?\s*)?({_NAME})\s*")


def lerp(z0, z1, t):
    """Linear interpolation: `(1 - t) z0 + t z1` for each `t` -> (len(t), z_dim)."""
    t = np.asarray(t, np.float64)[:, None]
    return ((1.0 - t) * z0[None] + t * z1[None]).astype(np.float32)


def slerp(z0, z1, t):
    """Spherical interpolation along the great circle from `z0` to `z1` (dcgan.torch #14).

    Keeps the norm of z typical of the prior where a straight line cuts through the low-norm
    middle of a high-dimensional distribution. Falls back to `lerp` for (anti)parallel ends.
    """
    z0, z1 = np.asarray(z0, np.float64), np.asarray(z1, np.float64)
    cos = np.dot(z0, z1) / max(np.linalg.norm(z0) * np.linalg.norm(z1), 1e-12)
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if np.sin(omega) < 1e-6:
        return lerp(z0, z1, t)
    t = np.asarray(t, np.float64)[:, None]
    mix = (np.sin((1.0 - t) * omega) * z0[None] + np.sin(t * omega) * z1[None]) / np.sin(omega)
    return mix.astype(np.float32)


def walk(points, steps, method="linear"):
    """A path through `points` (K, z_dim) in order, `steps` frames per leg, ends included.

    Returns:
        float32 ((K - 1) * (steps - 1) + 1, z_dim).
    """
    if method not in METHODS:
        raise InvestigateError(f"Expected `method` in {METHODS}. Received: method={method!r}")
    if len(points) < 2 or steps < 2:
        raise InvestigateError(
            f"Expected a walk of >= 2 points and >= 2 steps. Received: {len(points)} points, steps={steps}"
        )
    fn = lerp if method == "linear" else slerp
    t = np.linspace(0.0, 1.0, steps)
    legs = [fn(points[i], points[i + 1], t)[(1 if i else 0):] for i in range(len(points) - 1)]
    return np.concatenate(legs)


def _flat(pixels):
    return np.asarray(pixels, np.float32).reshape(len(pixels), -1) / 255.0


def random_pair_distance(client, pairs=128):
    """Mean L2 pixel distance (pixels in [0, 1]) between `pairs` pairs of random samples."""
    seeds = np.arange(_BASELINE_SEED, _BASELINE_SEED + 2 * pairs, dtype=np.int64)
    pixels = np.concatenate([client.sample(seeds[i:i + 256])["pixels"] for i in range(0, len(seeds), 256)])
    flat = _flat(pixels)
    return float(np.linalg.norm(flat[:pairs] - flat[pairs:], axis=1).mean())


def interpolate(model, out_dir, config=InterpolateConfig()):
    """Decodes walks between z, linear and spherical, and measures how smooth they are.

    Args:
        model: An exported SavedModel (version or model directory).
        out_dir: Where `interpolate_<method>.png`, `smoothness.png` and `interpolate.json` go.
        config: An `InterpolateConfig`: the walks, frames per leg, methods, grid and scale.

    Returns:
        The report dict written to `interpolate.json`: per method, `mean_step_ratio` (mean
        consecutive-frame distance / mean random-pair distance), `max_step_ratio`,
        `max_over_mean_step` (1 = evenly spaced frames; a jump makes it large) and the
        distances of every walk.

    Raises:
        InvestigateError: bad indices, walks or methods, or not a usable SavedModel.
    """
    check_dir_writable(out_dir)  # Before the work: figures that cannot be written are lost.
    start = time.perf_counter()
    client, meta = open_savedmodel(model)
    z_file, seed, steps, methods = config.z_file, config.seed, config.steps, config.methods
    z_all = load_z_file(z_file, meta["z_dim"]) if z_file else None
    walks, points = config.walks, config.points
    if walks is None:
        walks = [list(range(w * points, (w + 1) * points)) for w in range(config.num_walks)]
    walks = [list(w) for w in walks]
    if not walks or any(len(w) < 2 for w in walks):
        raise InvestigateError(f"Expected walks of >= 2 indices each. Received: {walks}")
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise InvestigateError(f"Expected methods among {METHODS}. Received: {list(methods)}")
    if steps < 2:
        raise InvestigateError(f"Expected `steps` >= 2. Received: steps={steps}")

    baseline = random_pair_distance(client, config.baseline_pairs)
    report = {
        "model": client.path, "z_dim": meta["z_dim"], "z_dist": meta["z_dist"], "seed": seed,
        "z_file": z_file, "walks": walks, "steps_per_leg": steps,
        "random_pair_distance": baseline, "distance": "L2 over pixels scaled to [0, 1]",
        "methods": {},
    }
    figures, series = {}, []
    for method in methods:
        rows, per_walk = [], []
        for indices in walks:
            frames = generate(client, walk(grid_z(client, indices, seed, z_all), steps, method))
            rows.append(frames)
            flat = _flat(frames)
            step = np.linalg.norm(np.diff(flat, axis=0), axis=1)
            per_walk.append({
                "indices": indices,
                "step_distances": step,
                "endpoint_distance": float(np.linalg.norm(flat[-1] - flat[0])),
                "path_length": float(step.sum()),
                "max_over_mean_step": float(step.max() / max(step.mean(), 1e-12)),
            })
        steps_all = np.concatenate([w["step_distances"] for w in per_walk])
        report["methods"][method] = {
            "mean_step_distance": float(steps_all.mean()),
            "max_step_distance": float(steps_all.max()),
            "mean_step_ratio": float(steps_all.mean() / baseline),
            "max_step_ratio": float(steps_all.max() / baseline),
            "max_over_mean_step": float(max(w["max_over_mean_step"] for w in per_walk)),
            "walks": per_walk,
        }
        figures[f"interpolate_{method}.png"] = (rows_grid(rows), config.scale)
        # Walks of more points have more steps: pad, so the curves are per step index.
        longest = max(len(w["step_distances"]) for w in per_walk)
        matrix = np.full((len(per_walk), longest), np.nan)
        for i, w in enumerate(per_walk):
            matrix[i, :len(w["step_distances"])] = w["step_distances"] / baseline
        x = np.arange(1, longest + 1)
        series += [(f"{method} mean", x, np.nanmean(matrix, 0)), (f"{method} max", x, np.nanmax(matrix, 0))]
    even = 1.0 / (steps - 1)
    figures["smoothness.png"] = (line_chart(
        series, "consecutive-frame distance / random-pair distance", "step along the walk",
        "ratio", hlines=[(f"even legs between random pairs: {even:.3f}", even)],
    ), 1)
    report["seconds"] = time.perf_counter() - start
    return write_report(out_dir, "interpolate", report, figures)


def parse_expression(expression):
    """Parses `"A - B + C"` (names with optional coefficients, `0.5*A`) into `[(coef, name)]`.

    Raises:
        InvestigateError: anything else.
    """
    terms, pos = [], 0
    text = expression.strip()
    while pos < len(text):
        match = _TERM.match(text, pos)
        if not match or match.end() == pos or (terms and not match.group(1)):
            raise InvestigateError(
                f"Expected an expression like 'A - B + C' (names, + and -, optional coefficients "
                f"such as 0.5*A). Received: {expression!r}"
            )
        sign = -1.0 if match.group(1) == "-" else 1.0
        terms.append((sign * float(match.group(2) or 1.0), match.group(3)))
        pos = match.end()
    if not terms:
        raise InvestigateError(f"Expected a non-empty expression. Received: {expression!r}")
    return terms


def check_concepts(concepts, terms, turn=None):
    """Checks every name of `terms` (and `turn`) has a concept and every concept an exemplar.

    Raises:
        InvestigateError: a missing name or an empty concept.
    """
    names = [n for _, n in terms] + list(turn or ())
    unknown = sorted({n for n in names if n not in concepts})
    if unknown:
        raise InvestigateError(
            f"Expected concepts for every name in the expression. Missing: {', '.join(unknown)} "
            f"(given: {', '.join(concepts) or 'none'})"
        )
    empty = [n for n, idx in concepts.items() if not len(idx)]
    if empty:
        raise InvestigateError(f"Expected >= 1 exemplar per concept. Empty: {', '.join(empty)}")


def combine(means, terms, noise=0.25, neighbours=8, noise_seed=0):
    """The expression's z from the concepts' mean z, and its neighbours (paper's Figure 7).

    Args:
        means: Dict name -> mean z (z_dim,) of the concept's exemplars.
        terms: `[(coefficient, name)]` from `parse_expression`.
        noise: Half-width of the uniform noise added for the neighbours. Defaults to 0.25.
        neighbours: How many neighbours. Defaults to 8.
        noise_seed: Seed of that noise. Defaults to 0.

    Returns:
        `(result, around)`: float32 (z_dim,) and (neighbours, z_dim).
    """
    result = sum(coef * means[name] for coef, name in terms).astype(np.float32)
    rng = np.random.default_rng(noise_seed)
    around = result[None] + rng.uniform(-noise, noise, (neighbours, result.size)).astype(np.float32)
    return result, around


def arithmetic(model, out_dir, concepts, expression, config=ArithmeticConfig()):
    """The paper's vector arithmetic on z (Figure 7) and a "turn" walk between two concepts.

    Args:
        model: An exported SavedModel.
        out_dir: Where `arithmetic.png`, `turn.png` (with `config.turn`) and `arithmetic.json` go.
        concepts: Dict name -> exemplar grid indices (cells of `dcgan-tf sample --seed SEED
            --show-index`, or rows of `config.z_file`). Each concept is its exemplars' mean z.
        expression: E.g. `"A - B + C"`, over the names of `concepts`.
        config: An `ArithmeticConfig`: the grid, the neighbours' noise, the turn walk and scale.

    Returns:
        The report dict written to `arithmetic.json`: the concepts (indices, mean-z norm,
        discriminator probability of the decoded mean when the export has `discriminate`),
        the parsed expression and the result's z norm and probability.

    Raises:
        InvestigateError: unknown names, empty concepts, bad indices or expression.
    """
    check_dir_writable(out_dir)  # Before the work: figures that cannot be written are lost.
    start = time.perf_counter()
    client, meta = open_savedmodel(model)
    seed, z_file, scale = config.seed, config.z_file, config.scale
    turn, turn_steps = config.turn, config.turn_steps
    noise, neighbours, noise_seed = config.noise, config.neighbours, config.noise_seed
    z_all = load_z_file(z_file, meta["z_dim"]) if z_file else None
    terms = parse_expression(expression)
    check_concepts(concepts, terms, turn)
    score = _scorer(client)

    rows, report_concepts, means = [], {}, {}
    for name, indices in concepts.items():
        z = grid_z(client, indices, seed, z_all)
        means[name] = z.mean(axis=0)
        pixels = generate(client, np.concatenate([z, means[name][None]]))
        rows.append(pixels)
        report_concepts[name] = {
            "indices": list(indices), "mean_z_norm": float(np.linalg.norm(means[name])),
            "exemplar_probability": score(pixels[:-1]), "mean_probability": score(pixels[-1:]),
        }
    result, around = combine(means, terms, noise, neighbours, noise_seed)
    decoded = generate(client, np.concatenate([result[None], around]))
    rows.append(decoded)
    gaps = [(len(r) - 2,) for r in rows[:-1]] + [(0,)]  # Before each mean; after the result.
    figures = {"arithmetic.png": (rows_grid(rows, row_gaps=gaps), scale)}
    report = {
        "model": client.path, "z_dim": meta["z_dim"], "z_dist": meta["z_dist"], "seed": seed,
        "z_file": z_file, "concepts": report_concepts, "expression": expression,
        "terms": [{"coefficient": c, "concept": n} for c, n in terms],
        "result_z_norm": float(np.linalg.norm(result)), "noise": noise, "neighbours": neighbours,
        "noise_seed": noise_seed, "result_probability": score(decoded[:1]),
        "neighbour_probability": score(decoded[1:]),
        "layout": "one row per concept (its exemplars, a gap, then the decoded mean z); last "
                  "row: the expression's z, a gap, then its neighbours (z + U(-noise, noise))",
    }
    if turn:
        frames = generate(client, lerp(means[turn[0]], means[turn[1]], np.linspace(0, 1, turn_steps)))
        figures["turn.png"] = (rows_grid([frames]), scale)
        report["turn"] = {"from": turn[0], "to": turn[1], "steps": turn_steps}
    report["seconds"] = time.perf_counter() - start
    return write_report(out_dir, "arithmetic", report, figures)


def _scorer(client):
    """Mean discriminator probability of pixels, or `None` when the export has no `discriminate`."""
    if "discriminate" not in client.signatures():
        return lambda pixels: None
    return lambda pixels: float(np.mean(client.discriminate(pixels)["probability"]))
