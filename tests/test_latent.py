"""Latent walks and vector arithmetic (`dcgan-tf interpolate`, `dcgan-tf arithmetic`)."""

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from dcgan_tf.investigations.common import InvestigateError, grid_z, open_savedmodel, sample_z
from dcgan_tf.investigations.configs import ArithmeticConfig, InterpolateConfig
from dcgan_tf.investigations.latent import arithmetic, interpolate, lerp, parse_expression, slerp, walk


@pytest.fixture(scope="module")
def model(digits_export):
    return digits_export[1]


def test_lerp_and_slerp_hit_the_ends_and_slerp_keeps_the_norm():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=100), rng.normal(size=100)
    b *= np.linalg.norm(a) / np.linalg.norm(b)
    t = np.linspace(0, 1, 7)
    for fn in (lerp, slerp):
        path = fn(a, b, t)
        np.testing.assert_allclose(path[0], a, atol=1e-5)
        np.testing.assert_allclose(path[-1], b, atol=1e-5)
    norms = np.linalg.norm(slerp(a, b, t), axis=1)
    np.testing.assert_allclose(norms, np.linalg.norm(a), rtol=1e-5)
    # The straight line cuts through the middle: its midpoint is shorter.
    assert np.linalg.norm(lerp(a, b, [0.5])[0]) < 0.9 * np.linalg.norm(a)
    # Parallel ends fall back to lerp instead of dividing by sin(0).
    np.testing.assert_allclose(slerp(a, 2 * a, [0.5])[0], 1.5 * a, rtol=1e-5)


def test_walk_passes_through_every_point_once():
    points = np.eye(3, 4, dtype=np.float32)
    frames = walk(points, steps=5, method="spherical")
    assert frames.shape == (2 * 4 + 1, 4)
    for i, k in enumerate((0, 4, 8)):
        np.testing.assert_allclose(frames[k], points[i], atol=1e-6)
    with pytest.raises(InvestigateError, match="walk of >= 2 points"):
        walk(points[:1], 5)


def test_parse_expression():
    assert parse_expression("A - B + C") == [(1.0, "A"), (-1.0, "B"), (1.0, "C")]
    assert parse_expression("-0.5*smiling_woman+2 man") == [(-0.5, "smiling_woman"), (2.0, "man")]
    for bad in ("A B", "A + ", "A * B", "", "A - (B)"):
        with pytest.raises(InvestigateError, match="Expected"):
            parse_expression(bad)


def test_grid_z_is_the_sample_grid(model):
    client, meta = open_savedmodel(model)
    # Index i of `dcgan-tf sample --seed 5` is seed 5 + i.
    np.testing.assert_array_equal(grid_z(client, [0, 2], seed=5), client.sample([5, 7])["z"])
    # The library's own draw (for run directories) equals the export's.
    np.testing.assert_array_equal(sample_z(meta["z_dim"], meta["z_dist"], [5, 7]), client.sample([5, 7])["z"])


def test_interpolate_writes_rows_and_smoothness(model, tmp_path):
    report = interpolate(model, str(tmp_path), InterpolateConfig(
        walks=[[0, 1], [2, 3, 4]], steps=5, baseline_pairs=32, scale=2))
    for name in ("interpolate_linear.png", "interpolate_spherical.png", "smoothness.png", "interpolate.json"):
        assert os.path.isfile(tmp_path / name)
    with open(tmp_path / "interpolate.json", encoding="utf-8") as f:
        saved = json.load(f)
    assert saved == report
    assert report["random_pair_distance"] > 0
    for method in ("linear", "spherical"):
        m = report["methods"][method]
        assert 0 < m["mean_step_ratio"] <= m["max_step_ratio"]
        assert m["max_over_mean_step"] >= 1
        assert [len(w["step_distances"]) for w in m["walks"]] == [4, 8]
    from PIL import Image

    # One row per walk: 2 rows of up to 9 frames of 32 px, padded 2 px, upscaled 2x.
    assert Image.open(tmp_path / "interpolate_linear.png").size == (2 * (9 * 34 + 2), 2 * (2 * 34 + 2))


def test_interpolate_rejects_bad_input(model, tmp_path):
    with pytest.raises(InvestigateError, match="walks of >= 2"):
        interpolate(model, str(tmp_path), InterpolateConfig(walks=[[3]]))
    with pytest.raises(InvestigateError, match="methods"):
        interpolate(model, str(tmp_path), InterpolateConfig(methods=("cubic",)))
    with pytest.raises(InvestigateError, match="not a SavedModel"):
        interpolate(str(tmp_path), str(tmp_path))


def test_arithmetic_decodes_mean_of_exemplars(model, tmp_path):
    z_path = tmp_path / "z.npy"
    client, _ = open_savedmodel(model)
    z = client.sample(np.arange(9))["z"]
    np.save(z_path, z)
    concepts = {"A": [0, 1, 2], "B": [3, 4, 5], "C": [6, 7, 8]}
    report = arithmetic(model, str(tmp_path / "out"), concepts, "A - B + C",
                        ArithmeticConfig(z_file=str(z_path), turn=("A", "C")))
    expected = z[:3].mean(0) - z[3:6].mean(0) + z[6:].mean(0)
    assert report["result_z_norm"] == pytest.approx(np.linalg.norm(expected), rel=1e-5)
    assert report["concepts"]["B"]["indices"] == [3, 4, 5]
    assert 0 <= report["result_probability"] <= 1
    assert report["neighbours"] == 8 and report["noise"] == 0.25
    assert set(report["files"]) == {"arithmetic.png", "turn.png", "arithmetic.json"}
    # Grid indices (no z file) name the same z as the saved grid.
    again = arithmetic(model, str(tmp_path / "grid"), concepts, "A - B + C")
    assert again["result_z_norm"] == pytest.approx(report["result_z_norm"], rel=1e-5)


def test_arithmetic_errors(model, tmp_path):
    with pytest.raises(InvestigateError, match="Missing: D"):
        arithmetic(model, str(tmp_path), {"A": [0]}, "A - D")
    with pytest.raises(InvestigateError, match="Empty: A"):
        arithmetic(model, str(tmp_path), {"A": []}, "A")
    np.save(tmp_path / "z.npy", np.zeros((2, 100), np.float32))
    with pytest.raises(InvestigateError, match=r"index in \[0, 2\)"):
        arithmetic(model, str(tmp_path), {"A": [5]}, "A", ArithmeticConfig(z_file=str(tmp_path / "z.npy")))
    np.save(tmp_path / "bad.npy", np.zeros((2, 7), np.float32))
    with pytest.raises(InvestigateError, match=r"shape \(n, 100\)"):
        arithmetic(model, str(tmp_path), {"A": [0]}, "A",
                   ArithmeticConfig(z_file=str(tmp_path / "bad.npy")))


def test_cli_interpolate_and_arithmetic(model, tmp_path):
    from dcgan_tf_cli.main import cli

    runner = CliRunner()
    out = tmp_path / "interp"
    result = runner.invoke(cli, ["interpolate", "--model", model, "--out", str(out), "--walk-indices", "0,1",
                                 "--steps", "4", "--method", "spherical"])
    assert result.exit_code == 0, result.output
    assert "spherical: mean step / random pair" in result.output
    assert sorted(os.listdir(out)) == ["interpolate.json", "interpolate_spherical.png", "smoothness.png"]

    result = runner.invoke(cli, ["arithmetic", "--model", model, "--out", str(tmp_path / "arith"),
                                 "--concept", "a=0,1,2", "--concept", "b=3,4,5", "--expr", "a - b",
                                 "--turn", "a,b"])
    assert result.exit_code == 0, result.output
    assert os.path.isfile(tmp_path / "arith" / "turn.png")

    result = runner.invoke(cli, ["arithmetic", "--model", model, "--out", str(tmp_path / "x"),
                                 "--concept", "a=0", "--expr", "a + zz"])
    assert result.exit_code != 0
    assert "Missing: zz" in result.output and "Traceback" not in result.output
