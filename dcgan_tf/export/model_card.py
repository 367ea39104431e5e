"""The export's model card: a `README.md` with Hugging Face front-matter in each version.

What a person sharing or picking a model looks for first: the data, the step, the recipe, the
measured probe and score, how to load it. Written from the export's metadata (the run's config)
and the newest probe and score reports found for the run: the JSON files that `dcgan-tf probe
--json PATH` and `dcgan-tf score --json PATH` wrote into the run directory or the model
directory (`BASE/NAME/`), at their top level or in a `reports/` folder. TF Serving loads only
`saved_model.pb`, `variables/` and `assets/` of a version, so the card beside them is not served.
"""

import json
import os

from dcgan_tf.export import keras_files

FILENAME = "README.md"
REPORTS_DIR = "reports"
TAGS = ("dcgan", "gan", "unconditional-image-generation", "keras", "tensorflow", "tf-serving")


def report_kind(report):
    """`"probe"`, `"score"` or `None`: which command wrote the parsed JSON `report`."""
    if not isinstance(report, dict):
        return None
    if {"method", "test_error_mean", "accuracy_mean", "dataset"} <= report.keys():
        return "probe"
    if {"fid", "kid", "kid_std", "n", "dataset"} <= report.keys():
        return "score"
    return None


def find_reports(*directories):
    """The newest probe and score reports in `directories` (and their `reports/` folders).

    One report per kind, method and dataset: the most recently written one.

    Args:
        *directories: Where to look (missing ones are skipped).

    Returns:
        A list of `(path, kind, report)`, probes first, each group by path.
    """
    newest = {}
    for directory in directories:
        for folder in (directory, os.path.join(directory, REPORTS_DIR)):
            if not os.path.isdir(folder):
                continue
            for entry in sorted(os.scandir(folder), key=lambda e: e.name):
                if not (entry.is_file() and entry.name.endswith(".json")):
                    continue
                try:
                    with open(entry.path, encoding="utf-8") as f:
                        report = json.load(f)
                except (OSError, ValueError):
                    continue  # Not a report: config.json's neighbours, a torn file.
                kind = report_kind(report)
                if kind is None:
                    continue
                key = (kind, report.get("method"), report["dataset"])
                mtime = entry.stat().st_mtime
                if key not in newest or mtime >= newest[key][0]:
                    newest[key] = (mtime, entry.path, kind, report)
    found = sorted(newest.values(), key=lambda item: (item[2] != "probe", item[1]))
    return [(path, kind, report) for _, path, kind, report in found]


def _measured_at(report, step):
    measured = (report.get("metadata") or {}).get("step")
    if measured is None or measured == step:
        return f"step {step}"
    return f"step {measured} (an earlier export of this run)"


def _probe_row(report, step):
    sizes = report.get("sizes", {})
    return (f"| probe ({report['method']}) | {report['dataset']} | accuracy "
            f"{100 * report['accuracy_mean']:.2f}% +- {100 * report.get('test_error_std', 0):.2f}% "
            f"({sizes.get('labelled', '?')} labels, {len(report.get('draws', []))} draws) | "
            f"{_measured_at(report, step)} |")


def _score_row(report, step):
    space = (report.get("feature_space") or {}).get("name", "?")
    return (f"| score | {report['dataset']} | FID {report['fid']:.3f}, KID {report['kid']:.5f} "
            f"+- {report['kid_std']:.5f} (N = {report['n']}, {space} space) | "
            f"{_measured_at(report, step)} |")


def _yaml_list(values):
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def card_text(metadata, reports):
    """The model card's Markdown for an export's `metadata` and the `reports` found for it.

    Args:
        metadata: The export's metadata dict (`savedmodel.build_metadata`).
        reports: `(path, kind, report)` triples, as `find_reports` returns them.

    Returns:
        The text of `README.md`: YAML front-matter (library, tags, datasets, metrics), then
        what the model is, what trained it, what was measured and how to load it.
    """
    step, dataset = metadata["step"], metadata["dataset"]
    kinds = {kind for _, kind, _ in reports}
    metrics = (["accuracy"] if "probe" in kinds else []) + (["fid", "kid"] if "score" in kinds else [])
    size, channels = metadata["image_size"], metadata["channels"]
    recipe = metadata.get("recipe")
    generator = metadata.get("generator", "raw")
    front = [
        "---",
        "library_name: keras",
        "pipeline_tag: unconditional-image-generation",
        f"tags: {_yaml_list(TAGS)}",
        f"datasets: {_yaml_list([dataset])}",
    ]
    if metrics:
        front.append(f"metrics: {_yaml_list(metrics)}")
    front.append("---")
    z = (f"z: {metadata['z_dim']} values, " +
         ("uniform in [-1, 1]" if metadata["z_dist"] == "uniform" else "standard normal"))
    lines = [
        *front, "",
        f"# {metadata['name']}, version {metadata['version']}", "",
        f"A DCGAN (Radford, Metz & Chintala 2015) trained with dcgan-tf "
        f"{metadata.get('dcgan_tf_version', '')}: a generator of {size}x{size}x{channels} images "
        f"and its discriminator.", "",
        "| | |", "|---|---|",
        f"| data | `{dataset}`, trained at {size}x{size}x{channels} |",
        f"| step | {step} (epoch {metadata['epoch']}, checkpoint `{metadata['checkpoint']}`) |",
        f"| recipe | `{recipe}` |",
        f"| generator | {'weight average (EMA)' if generator == 'ema' else 'as trained'} |",
        f"| input | {z} |",
        f"| features | {metadata['feature_dim']} per image (`features` signature) |",
        "",
        "## Measured", "",
    ]
    if reports:
        lines += ["| what | data | result | measured at |", "|---|---|---|---|"]
        lines += [_probe_row(r, step) if kind == "probe" else _score_row(r, step)
                  for _, kind, r in reports]
    else:
        lines.append("No probe or score report was found for this run. Write one into the run "
                     "directory (`dcgan-tf probe ... --json RUN/probe.json`, `dcgan-tf score ... "
                     "--json RUN/score.json`) and export again to list it here.")
    lines += [
        "", "## Use", "",
        "With TF Serving: this directory is one version of a model base path "
        "(`saved_model.pb`, signatures `serving_default`, `sample`, `discriminate`, `features`, "
        "`metadata`). With plain TensorFlow: `tf.saved_model.load(\".\")`.", "",
        f"With Keras only (no dcgan-tf needed): `{keras_files.GENERATOR_FILE}` and "
        f"`{keras_files.DISCRIMINATOR_FILE}`.", "",
        "```python",
        "import keras",
        "import numpy as np",
        "",
        f"generator = keras.saving.load_model(\"{keras_files.GENERATOR_FILE}\")",
        (f"z = np.random.uniform(-1, 1, (16, {metadata['z_dim']})).astype(\"float32\")"
         if metadata["z_dist"] == "uniform" else
         f"z = np.random.standard_normal((16, {metadata['z_dim']})).astype(\"float32\")"),
        "images = generator.predict(z)  # [-1, 1]; pixels = round((images + 1) * 127.5)",
        "```", "",
        ("The discriminator takes images scaled to [-1, 1] and returns "
         + ("its class logits; their log-sum-exp is the real/fake logit."
            if "labelled_subset" in metadata else "one real/fake logit per image.")),
        "",
    ]
    return "\n".join(lines)


def write(version_dir, metadata, run_dir, model_dir):
    """Writes the model card `version_dir/README.md` from `metadata` and the reports found
    in `run_dir` and `model_dir` (`find_reports`).

    Returns:
        The card's path.
    """
    path = os.path.join(version_dir, FILENAME)
    with open(path, "w", encoding="utf-8") as f:
        f.write(card_text(metadata, find_reports(run_dir, model_dir)))
    return path
