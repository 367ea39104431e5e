"""Export to a TF Serving SavedModel: the contract, atomic versions, models.config, consumers."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner

from dcgan_tf.training import checkpoint
from dcgan_tf.export import serving_config
from dcgan_tf.export.config import ExportConfig
from dcgan_tf.config import ModelConfig, TrainConfig
from dcgan_tf.contract import CONTRACT_VERSION, METADATA_ASSET, SIGNATURES
from dcgan_tf.export.savedmodel import ExportError, directory_bytes, export_savedmodel, list_versions
from dcgan_tf.serving.clients import ServingError, SavedModelClient

CFG = ModelConfig(image_size=32, channels=1, ngf=16, ndf=16)


def make_run(run_dir, cfg=CFG, step=1):
    """A run directory with one checkpoint of an untrained model, without training.

    The batch-norm moving statistics are set away from (0, 1), so a signature that ran batch
    norm in training mode would not match the Keras model in inference mode.
    """
    from dcgan_tf.training.run import build_gan

    train_cfg = TrainConfig(out=str(run_dir))
    gan = build_gan(cfg, train_cfg)
    rng = np.random.default_rng(1)
    for v in [*gan.generator.variables, *gan.discriminator.variables]:
        if v.path.endswith("moving_mean"):
            v.assign(rng.normal(0, 0.2, v.shape).astype("float32"))
        elif v.path.endswith("moving_variance"):
            v.assign(rng.uniform(0.5, 2.0, v.shape).astype("float32"))
    checkpoint.write_run_config(str(run_dir), cfg, train_cfg)
    checkpoint.save(gan, str(run_dir), step=step, epoch=1)
    return str(run_dir)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("run") / "digits-run")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return str(tmp_path_factory.mktemp("savedmodels"))


@pytest.fixture(scope="module")
def exported(run_dir, base):
    return export_savedmodel(run_dir, base_path=base, name="digits")


def test_export_writes_first_version_and_metadata(exported, base, run_dir):
    assert exported == os.path.join(base, "digits", "1")
    assert os.path.isfile(os.path.join(exported, "saved_model.pb"))
    with open(os.path.join(exported, METADATA_ASSET), encoding="utf-8") as f:
        meta = json.load(f)
    assert meta["contract"] == CONTRACT_VERSION
    assert (meta["image_size"], meta["channels"], meta["z_dim"], meta["z_dist"]) == (32, 1, 100, "uniform")
    assert (meta["dataset"], meta["step"], meta["name"], meta["version"]) == ("digits", 1, "digits", 1)
    assert meta["model"] == CFG.to_dict()
    assert "out" not in meta["train"]  # No local paths in a served artifact.
    # Permissions like any directory: a server running as another user must read it.
    assert os.stat(exported).st_mode & 0o055 == 0o055 & ~_umask()


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_signatures_follow_the_contract(exported):
    client = SavedModelClient(exported)
    signatures = client.signatures()
    assert set(signatures) == set(SIGNATURES)
    for name, contract in SIGNATURES.items():
        for part in ("inputs", "outputs"):
            got = {k: dtype for k, (dtype, _) in signatures[name][part].items()}
            assert got == contract[part], (name, part)
    assert signatures["serving_default"]["inputs"]["z"][1] == (None, 100)
    assert signatures["serving_default"]["outputs"]["pixels"][1] == (None, 32, 32, 1)
    assert signatures["discriminate"]["inputs"]["images"][1] == (None, None, None, None)
    assert signatures["features"]["outputs"]["features"][1] == (None, 4 * 4 * (16 + 32 + 64))


def test_variables_are_stored_once(exported, run_dir):
    _, _, generator, discriminator, _ = checkpoint.load_networks(run_dir)
    weights = sum(v.numpy().nbytes for v in [*generator.variables, *discriminator.variables])
    ratio = directory_bytes(os.path.join(exported, "variables")) / weights
    assert ratio < 1.10, f"variables/ is {ratio:.2f}x the weights: something is stored twice"


_PLAIN_TF_CHECK = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf

    path, expected_path = sys.argv[1], sys.argv[2]
    exp = np.load(expected_path)
    model = tf.saved_model.load(path)
    sigs = model.signatures
    assert set(sigs) == {"serving_default", "sample", "discriminate", "features", "metadata"}, set(sigs)

    out = sigs["serving_default"](z=tf.constant(exp["z"]))
    images, pixels = out["images"].numpy(), out["pixels"].numpy()
    assert images.dtype == np.float32 and images.shape == (4, 32, 32, 1)
    assert pixels.dtype == np.uint8 and pixels.shape == (4, 32, 32, 1)
    assert -1 <= images.min() and images.max() <= 1
    assert np.abs(images - exp["generated"]).max() < 1e-5, np.abs(images - exp["generated"]).max()
    assert np.array_equal(pixels, np.clip(np.round((images + 1) * 127.5), 0, 255).astype(np.uint8))

    many = sigs["sample"](seed=tf.constant([7, 8, 9], tf.int64))
    one = sigs["sample"](seed=tf.constant([9], tf.int64))
    assert many["z"].shape == (3, 100) and many["pixels"].dtype == tf.uint8
    assert np.array_equal(many["z"].numpy()[2], one["z"].numpy()[0])
    assert -1 <= many["z"].numpy().min() and many["z"].numpy().max() <= 1
    redo = sigs["serving_default"](z=many["z"])["images"].numpy()
    assert np.abs(redo - many["images"].numpy()).max() < 1e-6

    out = sigs["discriminate"](images=tf.constant(exp["x"]))
    logits, prob = out["logits"].numpy(), out["probability"].numpy()
    assert logits.shape == (5,) and logits.dtype == np.float32
    assert np.abs(logits - exp["logits"]).max() < 1e-4
    assert np.allclose(prob, 1 / (1 + np.exp(-logits)), atol=1e-6) and 0 <= prob.min() <= prob.max() <= 1
    rgb = sigs["discriminate"](images=tf.constant(exp["rgb"]))
    assert rgb["logits"].shape == (3,)

    feats = sigs["features"](images=tf.constant(exp["x"]))["features"].numpy()
    pooled = []
    for name in sorted(k for k in exp.files if k.startswith("act")):
        a = exp[name]
        n, h, w, c = a.shape
        pooled.append(a.reshape(n, 4, h // 4, 4, w // 4, c).max(axis=(2, 4)).reshape(n, -1))
    reference = np.concatenate(pooled, axis=1)
    assert feats.dtype == np.float32 and feats.shape == reference.shape == (5, 1792), feats.shape
    assert np.abs(feats - reference).max() < 1e-5, np.abs(feats - reference).max()
    assert sigs["features"](images=tf.constant(exp["rgb"]))["features"].shape == (3, 1792)

    meta = sigs["metadata"](request=tf.constant([0]))["metadata"].numpy()
    meta = json.loads(meta[0].decode())
    assert (meta["z_dim"], meta["image_size"], meta["contract"]) == (100, 32, 1)

    # TF Serving loads into a session (TF1 loader): every signature must run there too.
    eager = {
        "serving_default": ({"z": exp["z"]}, sigs["serving_default"](z=tf.constant(exp["z"]))),
        "sample": ({"seed": np.array([7, 8, 9])}, many),
        "discriminate": ({"images": exp["rgb"]}, rgb),
        "features": ({"images": exp["x"]}, {"features": feats}),
    }
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        graph = tf.compat.v1.saved_model.loader.load(sess, ["serve"], path)
        for name, (feeds, expected) in eager.items():
            sig = graph.signature_def[name]
            names = sorted(sig.outputs)
            got = sess.run([sig.outputs[k].name for k in names],
                           {sig.inputs[k].name: v for k, v in feeds.items()})
            for k, value in zip(names, got):
                diff = value.astype("float64") - np.asarray(expected[k]).astype("float64")
                assert np.abs(diff).max() < 1e-5, (name, k)
    assert "dcgan_tf" not in sys.modules
    print("OK")
""")


def test_plain_tensorflow_process_loads_and_matches_keras(exported, run_dir, tmp_path):
    from dcgan_tf.training.models import build_feature_model

    _, _, generator, discriminator, _ = checkpoint.load_networks(run_dir)
    rng = np.random.default_rng(0)
    z = rng.uniform(-1, 1, (4, 100)).astype("float32")
    x = rng.integers(0, 256, (5, 32, 32, 1), dtype=np.uint8)
    scaled = x.astype("float32") / 127.5 - 1
    activations = build_feature_model(discriminator, CFG)(scaled, training=False)
    generated = np.asarray(generator(z, training=False))
    assert np.abs(generated - np.asarray(generator(z, training=True))).max() > 1e-3
    np.savez(
        tmp_path / "expected.npz", z=z, x=x, generated=generated,
        logits=np.asarray(discriminator(scaled, training=False))[:, 0],
        rgb=rng.integers(0, 256, (3, 40, 48, 3), dtype=np.uint8),
        **{f"act{i}": np.asarray(a) for i, a in enumerate(activations)},
    )
    script = tmp_path / "check.py"
    script.write_text(_PLAIN_TF_CHECK)
    result = subprocess.run(
        [sys.executable, str(script), exported, str(tmp_path / "expected.npz")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("OK")


def test_saved_model_cli_lists_and_runs(exported, tmp_path):
    shown = subprocess.run(
        ["saved_model_cli", "show", "--dir", exported, "--all"],
        capture_output=True, text=True, timeout=300,
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    for name in SIGNATURES:
        assert f"signature_def['{name}']" in shown.stdout
    assert "inputs['z']" in shown.stdout and "DT_UINT8" in shown.stdout
    np.save(tmp_path / "z.npy", np.zeros((2, 100), np.float32))
    ran = subprocess.run(
        ["saved_model_cli", "run", "--dir", exported, "--tag_set", "serve",
         "--signature_def", "serving_default", "--inputs", f"z={tmp_path / 'z.npy'}",
         "--outdir", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    pixels = np.load(tmp_path / "out" / "pixels.npy")
    assert pixels.dtype == np.uint8 and pixels.shape == (2, 32, 32, 1)


def test_features_of_raw_images_match_the_training_pipeline(exported):
    from dcgan_tf.data.datasets import prepare_images

    client = SavedModelClient(exported)
    raw = np.random.default_rng(3).integers(0, 256, (3, 40, 48, 3), dtype=np.uint8)
    prepared = prepare_images(raw, 32, 1)
    assert np.abs(client.features(raw) - client.features(prepared)).max() < 1e-5


@pytest.mark.parametrize("call, match", [
    (lambda c: c.generate(np.zeros((2, 99), np.float32)), r"`z` of shape \(N, 100\).*\(2, 99\)"),
    (lambda c: c.generate(np.zeros(100, np.float32)), r"`z` of shape \(N, 100\).*\(100,\)"),
    (lambda c: c.discriminate(np.zeros((2, 32, 32, 1), np.float32)), r"uint8 pixels.*float32"),
    (lambda c: c.features(np.zeros((32, 32, 1), np.uint8)), r"`images` of shape \(N, any"),
    (lambda c: c.discriminate(np.zeros((1, 8, 8, 2), np.uint8)), r"1 \(grey\) or 3 \(RGB\) channels"),
    (lambda c: c.predict("generate_more", {}), r"no signature 'generate_more'"),
    (lambda c: c.predict("serving_default", {"x": np.zeros((1, 100))}), r"Expected inputs \['z'\]"),
])
def test_bad_inputs_fail_with_one_clear_line(exported, call, match):
    with pytest.raises(ServingError, match=match):
        call(SavedModelClient(exported))


def test_a_path_that_is_not_a_savedmodel(tmp_path, run_dir):
    with pytest.raises(ServingError, match="is not a SavedModel: it does not exist"):
        SavedModelClient(str(tmp_path / "missing"))
    with pytest.raises(ServingError, match="is not a SavedModel: it has no saved_model.pb"):
        SavedModelClient(run_dir)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "saved_model.pb").write_bytes(b"\xff\x00 not a protobuf")
    with pytest.raises(ServingError, match="not a readable SavedModel"):
        SavedModelClient(str(tmp_path / "bad"))


def test_model_directory_resolves_to_newest_version(exported, base):
    assert SavedModelClient(os.path.join(base, "digits")).path == os.path.join(base, "digits", "1")


def test_versions_never_overwrite_unless_asked(run_dir, tmp_path):
    base = str(tmp_path)
    assert export_savedmodel(run_dir, base, name="m").endswith(os.path.join("m", "1"))
    assert export_savedmodel(run_dir, base, name="m", version=5).endswith(os.path.join("m", "5"))
    assert export_savedmodel(run_dir, base, name="m").endswith(os.path.join("m", "6"))
    with pytest.raises(ExportError, match=r"m/5 already exists.*--overwrite.*\(7\)"):
        export_savedmodel(run_dir, base, name="m", version=5)
    stamp = os.path.join(base, "m", "5", "stamp")
    open(stamp, "w").close()
    export_savedmodel(run_dir, base, name="m", version=5, config=ExportConfig(overwrite=True))
    assert not os.path.exists(stamp)
    assert list_versions(os.path.join(base, "m")) == [1, 5, 6]
    # No temporary directory is left; the (empty, unlocked) lock file stays by design.
    assert [e for e in os.listdir(os.path.join(base, "m")) if e.startswith(".")] == [".lock"]


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", "-x", "spaced name"])
def test_bad_model_names(run_dir, tmp_path, name):
    with pytest.raises(ExportError, match="Expected `name`"):
        export_savedmodel(run_dir, str(tmp_path), name=name)


def test_not_a_run_directory(tmp_path):
    with pytest.raises(checkpoint.CheckpointError, match="not a run directory"):
        export_savedmodel(str(tmp_path), str(tmp_path / "sm"), name="m")
    assert not os.path.exists(tmp_path / "sm")


def _entries(model_dir):
    """What a model directory holds besides its lock file (which stays, empty, by design)."""
    return [e for e in os.listdir(model_dir) if e != ".lock"]


def test_failed_export_leaves_no_version(run_dir, tmp_path, monkeypatch):
    import tensorflow as tf

    def broken_save(obj, path, **kwargs):
        open(os.path.join(path, "saved_model.pb"), "w").close()
        raise RuntimeError("disk full")

    monkeypatch.setattr(tf.saved_model, "save", broken_save)
    with pytest.raises(RuntimeError, match="disk full"):
        export_savedmodel(run_dir, str(tmp_path), name="m")
    assert _entries(tmp_path / "m") == []
    assert not os.path.exists(tmp_path / "models.config")


def test_conditional_models_are_refused_clearly(tmp_path):
    if "num_classes" not in ModelConfig.__dataclass_fields__:
        pytest.skip("no conditional models in this tree")
    cfg = ModelConfig(image_size=32, channels=1, ngf=8, ndf=8, num_classes=10)
    checkpoint.write_run_config(str(tmp_path / "run"), cfg, TrainConfig(out=str(tmp_path / "run")))
    with pytest.raises(ExportError, match="class-conditional model"):
        export_savedmodel(str(tmp_path / "run"), str(tmp_path / "sm"), name="m")
    assert not os.path.exists(tmp_path / "sm" / "m")


_KILLED_EXPORT = textwrap.dedent("""
    import os, signal, sys
    from dcgan_tf.export import savedmodel as export

    def killed(tmp, final, *args):  # Dies after the SavedModel is complete, before it is published.
        os.kill(os.getpid(), signal.SIGKILL)

    export._publish = killed
    export.export_savedmodel(sys.argv[1], base_path=sys.argv[2], name="m")
""")


def test_killed_export_leaves_nothing_tf_serving_would_load(run_dir, tmp_path):
    base = tmp_path / "savedmodels"
    result = subprocess.run(
        [sys.executable, "-c", _KILLED_EXPORT, run_dir, str(base)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
    left = _entries(base / "m")
    assert len(left) == 1 and left[0].startswith(".tmp-export-"), left
    assert os.path.isfile(base / "m" / left[0] / "saved_model.pb")  # It was killed late.
    assert list_versions(str(base / "m")) == [] and serving_config.list_models(str(base)) == []
    # The next export cleans up after the dead one and takes version 1.
    assert export_savedmodel(run_dir, str(base), name="m").endswith(os.path.join("m", "1"))
    assert _entries(base / "m") == ["1"]


def _parse_with_tf_serving_schema(text):
    """Parses models.config with TF Serving's own `ModelServerConfig` proto."""
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    return text_format.Parse(text, model_server_config_pb2.ModelServerConfig())


def test_models_config_lists_every_model(run_dir, tmp_path):
    base = str(tmp_path)
    export_savedmodel(run_dir, base, name="digits")
    export_savedmodel(run_dir, base, name="faces")
    os.makedirs(os.path.join(base, "empty", "1"))  # No saved_model.pb: not a model.
    serving_config.write(base)
    with open(os.path.join(base, "models.config"), encoding="utf-8") as f:
        parsed = _parse_with_tf_serving_schema(f.read())
    got = [(c.name, c.base_path, c.model_platform) for c in parsed.model_config_list.config]
    assert got == [("digits", "/models/digits", "tensorflow"), ("faces", "/models/faces", "tensorflow")]


def test_models_config_keeps_hand_edits(run_dir, tmp_path):
    base = str(tmp_path)
    with open(os.path.join(base, "models.config"), "w", encoding="utf-8") as f:
        f.write(textwrap.dedent("""
            # mine
            model_config_list: {
              config: {
                name: "digits",
                base_path: "/srv/models/digits",
                model_platform: "tensorflow",
                model_version_policy: { specific { versions: 1 } }
              },
              config: { name: "gone" base_path: "/srv/models/gone" model_platform: "tensorflow" }
            }
        """))
    export_savedmodel(run_dir, base, name="digits")
    export_savedmodel(run_dir, base, name="new")
    entries = serving_config.read(base)
    assert sorted(entries) == ["digits", "new"]
    assert list(entries["digits"].model_version_policy.specific.versions) == [1]
    assert entries["new"].base_path == "/srv/models/new"  # The root the existing entries use.
    serving_config.write(base, serving_root="/data/sm/")
    entries = serving_config.read(base)
    assert entries["digits"].base_path == "/data/sm/digits"
    assert list(entries["digits"].model_version_policy.specific.versions) == [1]


def test_models_config_does_not_grow_on_re_export(run_dir, tmp_path):
    import difflib

    base = str(tmp_path)
    path = os.path.join(base, "models.config")
    export_savedmodel(run_dir, base, name="digits")
    with open(path, encoding="utf-8") as f:
        first = f.read()
    export_savedmodel(run_dir, base, name="digits")  # Version 2: the same model list.
    with open(path, encoding="utf-8") as f:
        assert f.read() == first
    export_savedmodel(run_dir, base, name="faces")
    with open(path, encoding="utf-8") as f:
        third = f.read()
    diff = [d for d in difflib.ndiff(first.splitlines(), third.splitlines()) if d[0] in "+-"]
    assert all(d.startswith("+ ") for d in diff), diff  # Nothing removed or changed, ...
    assert [d[2:].strip() for d in diff] == [  # ... only the new entry added.
        "config {", 'name: "faces"', 'base_path: "/models/faces"', 'model_platform: "tensorflow"',
        "}",
    ]


def test_broken_models_config_fails_before_exporting(run_dir, tmp_path):
    (tmp_path / "models.config").write_text("model_config_list { config { name: \"a\" ")
    with pytest.raises(serving_config.ServingConfigError, match="not a TF Serving model_config_list"):
        export_savedmodel(run_dir, str(tmp_path), name="m")
    assert not os.path.exists(tmp_path / "m")


def test_cli_export_inspect_sample(run_dir, tmp_path):
    from PIL import Image

    from dcgan_tf_cli.main import cli

    runner = CliRunner()
    base = str(tmp_path / "sm")
    result = runner.invoke(cli, ["export", run_dir, "--name", "digits", "--base-path", base])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == os.path.join(base, "digits", "1")
    assert any(l.startswith("serving_default  z: float32[N, 100]") for l in lines), result.output
    result = runner.invoke(cli, ["export", run_dir, "--name", "digits", "--base-path", base,
                                 "--version", "1"])
    assert result.exit_code == 1 and "already exists" in result.output
    result = runner.invoke(cli, ["inspect", os.path.join(base, "digits"), "--json", "-"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["metadata"]["step"] == 1
    assert shown["signatures"]["features"]["outputs"]["features"]["shape"] == [None, 1792]
    out, zfile = tmp_path / "g.png", tmp_path / "z.npy"
    result = runner.invoke(cli, ["sample", "--model", os.path.join(base, "digits", "1"), "--n", "6",
                                 "--seed", "3", "--out-file", str(out), "--show-index", "--save-z", str(zfile)])
    assert result.exit_code == 0, result.output
    z = np.load(zfile)
    assert z.shape == (6, 100) and z.dtype == np.float32
    assert np.array_equal(z[1], SavedModelClient(os.path.join(base, "digits")).sample([4])["z"][0])
    with Image.open(out) as image:
        assert image.mode == "L" and image.width >= 3 * 32 * 2  # Upscaled to fit the labels.
    result = runner.invoke(cli, ["sample", "--model", run_dir])
    assert result.exit_code == 1 and "is not a SavedModel" in result.output


@pytest.mark.bf16
def test_bf16_export_keeps_the_contract_and_the_images(exported, run_dir, tmp_path, monkeypatch):
    from dcgan_tf_cli.main import cli

    base = str(tmp_path / "sm")
    monkeypatch.setattr("dcgan_tf.hardware.cpu_flags", lambda: frozenset({"avx512f"}))
    result = CliRunner().invoke(cli, ["export", run_dir, "--name", "digits", "--base-path", base,
                                      "--serving-precision", "bf16"])
    assert result.exit_code == 0, result.output
    assert "no native bf16" in result.output.splitlines()[-1]
    half, full = SavedModelClient(os.path.join(base, "digits")), SavedModelClient(exported)
    assert half.metadata()["serving_precision"] == "bf16"
    assert full.metadata()["serving_precision"] == "fp32"
    assert half.signatures() == full.signatures()
    z = np.random.default_rng(3).uniform(-1, 1, (8, 100)).astype("float32")
    got, expected = half.generate(z), full.generate(z)
    assert got["images"].dtype == np.float32 and got["pixels"].dtype == np.uint8
    step = np.abs(got["pixels"].astype(int) - expected["pixels"].astype(int))
    assert step.max() <= 2, step.max()
    np.testing.assert_allclose(half.features(np.zeros((2, 32, 32, 1), np.uint8)),
                               full.features(np.zeros((2, 32, 32, 1), np.uint8)), atol=1e-5)
    result = CliRunner().invoke(cli, ["export", run_dir, "--base-path", base, "--serving-precision", "fp16"])
    assert result.exit_code == 2 and "'fp16' is not one of 'fp32', 'bf16'" in result.output
    with pytest.raises(ExportError, match="Unknown precision 'int8'"):
        export_savedmodel(run_dir, base_path=base, config=ExportConfig(precision="int8"))


def test_bf16_export_on_an_avx2_cpu_exports_but_refuses_to_run_in_one_line(run_dir, tmp_path,
                                                                            monkeypatch):
    from dcgan_tf_cli.main import cli

    base = str(tmp_path / "sm")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")  # Our kind rules read it at each call.
    result = CliRunner().invoke(cli, ["export", run_dir, "--name", "digits", "--base-path", base,
                                      "--serving-precision", "bf16"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "Note: this machine cannot run a bf16 export (no AVX-512); serve it on a CPU with AMX "
        "or AVX-512 BF16, or a GPU.")
    assert SavedModelClient(os.path.join(base, "digits")).metadata()["serving_precision"] == "bf16"
    result = CliRunner().invoke(cli, ["sample", "--model", os.path.join(base, "digits"),
                                      "--out-file", str(tmp_path / "g.png")])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1, result.output
    assert "cannot run on this CPU (kind avx2" in result.output
    assert "export it again with --serving-precision fp32" in result.output
    assert not (tmp_path / "g.png").exists()
    # D's signatures stay float32, so the export's features still serve here.
    features = SavedModelClient(os.path.join(base, "digits")).features(np.zeros((2, 32, 32, 1), np.uint8))
    assert features.shape[0] == 2 and np.isfinite(features).all()


@pytest.mark.slow
def test_train_export_sample_end_to_end(tmp_path, monkeypatch):
    from PIL import Image

    from dcgan_tf_cli.main import cli

    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["train", "--max-steps", "20", "R", "--ngf", "16", "--ndf", "16"])
    assert result.exit_code == 0, result.output
    assert result.output.count("digits images are 8x8 grey; resizing to 32x32.") == 1, result.output
    result = runner.invoke(cli, ["export", "R", "--name", "digits", "--base-path", "B"])
    assert result.exit_code == 0, result.output
    assert os.path.isfile("B/digits/1/saved_model.pb") and os.path.isfile("B/models.config")
    result = runner.invoke(cli, ["sample", "--model", "B/digits/1", "--out-file", "g.png"])
    assert result.exit_code == 0, result.output
    with Image.open("g.png") as image:
        image.load()
        assert image.size == (8 * 34 + 2, 8 * 34 + 2)
        assert np.asarray(image).std() > 0


_KERAS_CHECK = textwrap.dedent("""
    import sys

    import keras
    import numpy as np
    import tensorflow as tf

    version = sys.argv[1]
    generator = keras.saving.load_model(version + "/assets.extra/generator.keras")
    discriminator = keras.saving.load_model(version + "/assets.extra/discriminator.keras")
    served = tf.saved_model.load(version)
    z = np.random.default_rng(3).uniform(-1, 1, (6, 100)).astype("float32")
    ours = served.signatures["serving_default"](z=tf.constant(z))
    images = generator.predict(z, verbose=0)
    x = np.random.default_rng(4).integers(0, 256, (5, 32, 32, 1), dtype=np.uint8)
    logits = served.signatures["discriminate"](images=tf.constant(x))["logits"].numpy()
    d_logits = discriminator.predict(x.astype("float32") / 127.5 - 1, verbose=0)[:, 0]
    assert "dcgan_tf" not in sys.modules, "loading needed dcgan_tf"
    np.save("images.npy", images)
    np.save("served.npy", ours["images"].numpy())
    np.save("served_pixels.npy", ours["pixels"].numpy())
    np.save("logits.npy", np.stack([logits, d_logits]))
    print(generator.count_params(), discriminator.count_params())
    print("OK")
""")


def test_keras_files_load_without_dcgan_tf_and_match_the_savedmodel(exported, run_dir, tmp_path):
    script = tmp_path / "check.py"
    script.write_text(_KERAS_CHECK)
    result = subprocess.run([sys.executable, str(script), os.path.abspath(exported)],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    counts, ok = result.stdout.strip().splitlines()[-2:]
    assert ok == "OK"
    # G and D apart, each with its own parameters (a TFSMLayer would report them together).
    _, _, generator, discriminator, _ = checkpoint.load_networks(run_dir)
    assert counts.split() == [str(generator.count_params()), str(discriminator.count_params())]
    images, served = np.load(tmp_path / "images.npy"), np.load(tmp_path / "served.npy")
    np.testing.assert_allclose(images, served, atol=1e-4)
    pixels = np.clip(np.round((images + 1) * 127.5), 0, 255)
    assert np.abs(pixels - np.load(tmp_path / "served_pixels.npy")).max() <= 1
    logits, d_logits = np.load(tmp_path / "logits.npy")
    np.testing.assert_allclose(d_logits, logits, rtol=1e-4, atol=1e-4)


def test_keras_discriminator_of_a_semi_supervised_model_gives_its_class_logits():
    from dcgan_tf.export.keras_files import plain_networks
    from dcgan_tf.training.models import build_discriminator, build_generator, semi_classifier

    cfg = ModelConfig(image_size=32, channels=1, ngf=8, ndf=8, labels=100, label_classes=10)
    generator, discriminator = build_generator(cfg), build_discriminator(cfg)
    _, plain = plain_networks(generator, discriminator, cfg)
    x = np.random.default_rng(0).uniform(-1, 1, (3, 32, 32, 1)).astype("float32")
    class_logits = np.asarray(plain(x, training=False))
    np.testing.assert_allclose(class_logits, semi_classifier(discriminator)(x, training=False),
                               atol=1e-5)
    # Their log-sum-exp is D's real/fake logit.
    lse = np.log(np.exp(class_logits.astype("float64")).sum(axis=1))
    np.testing.assert_allclose(lse, np.asarray(discriminator(x, training=False))[:, 0], atol=1e-4)
    assert {type(layer).__module__.split(".")[0] for layer in plain.layers} == {"keras"}


def _front_matter(text):
    """The card's YAML front-matter, read as YAML reads its `key: value` and `[...]` lines."""
    assert text.startswith("---\n")
    fields = {}
    for line in text.split("---\n")[1].splitlines():
        key, _, value = line.partition(": ")
        fields[key] = json.loads(value) if value.startswith("[") else value
    return fields


def test_model_card_names_data_step_recipe_and_the_measured_reports(tmp_path):
    run = make_run(tmp_path / "run", step=7)
    base = tmp_path / "savedmodels"
    plain = export_savedmodel(run, base_path=str(base), name="card")
    card = open(os.path.join(plain, "README.md"), encoding="utf-8").read()
    front = _front_matter(card)
    assert front["library_name"] == "keras" and front["datasets"] == ["digits"]
    assert "dcgan" in front["tags"] and "metrics" not in front
    assert "| data | `digits`, trained at 32x32x1 |" in card and "| step | 7 " in card and "| recipe | `pyramid` |" in card
    assert "No probe or score report was found" in card
    # Reports written by `probe --json` / `score --json`, one of them for an earlier export.
    probe = {"method": "svm", "dataset": "digits", "test_error_mean": 0.0153,
             "test_error_std": 0.0044, "accuracy_mean": 0.9847, "sizes": {"labelled": 990},
             "draws": [{}] * 10, "metadata": {"step": 7}}
    score = {"fid": 8.4791, "kid": 0.188861, "kid_std": 0.045472, "n": 300, "dataset": "digits",
             "feature_space": {"name": "classifier"}, "metadata": {"step": 5}}
    (tmp_path / "run" / "probe.json").write_text(json.dumps(probe))
    os.makedirs(base / "card" / "reports")
    (base / "card" / "reports" / "score.json").write_text(json.dumps(score))
    (tmp_path / "run" / "notes.json").write_text('{"not": "a report"}')
    second = export_savedmodel(run, base_path=str(base), name="card")
    card = open(os.path.join(second, "README.md"), encoding="utf-8").read()
    assert _front_matter(card)["metrics"] == ["accuracy", "fid", "kid"]
    assert "| probe (svm) | digits | accuracy 98.47% +- 0.44% (990 labels, 10 draws) | step 7 |" in card
    assert ("| score | digits | FID 8.479, KID 0.18886 +- 0.04547 (N = 300, classifier space) "
            "| step 5 (an earlier export of this run) |") in card
    assert "not a report" not in card
    # TF Serving's loader reads saved_model.pb, variables/ and assets/: the extras sit outside.
    loaded = {"saved_model.pb", "fingerprint.pb", "variables", "assets"}
    assert set(os.listdir(second)) - loaded == {"README.md", "assets.extra"}
    assert sorted(os.listdir(os.path.join(second, "assets.extra"))) == [
        "discriminator.keras", "generator.keras", "metadata.json"]
