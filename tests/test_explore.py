"""`dcgan-tf explore`: the app's endpoints through Gradio's own client, and one real browser.

Every expected value is computed here from the SavedModel called directly with plain
TensorFlow and z from the library's seed -> z function, not from the app's code.
"""

import json
import os
import re
import socket
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from dcgan_tf.explore import run_info
from dcgan_tf.latent_z import z_from_seed

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pixels(path):
    with Image.open(path) as image:
        array = np.asarray(image)
    return array[..., None] if array.ndim == 2 else array


@pytest.fixture(scope="module")
def model(digits_export):
    import tensorflow as tf

    run, path = digits_export
    loaded = tf.saved_model.load(path)
    with open(os.path.join(path, "assets.extra", "metadata.json"), encoding="utf-8") as f:
        meta = json.load(f)

    def z(seeds):
        return np.stack([z_from_seed(s, meta["z_dim"], meta["z_dist"]).numpy() for s in seeds])

    def decode(z_batch):
        out = loaded.signatures["serving_default"](z=tf.constant(np.asarray(z_batch, np.float32)))
        return out["pixels"].numpy()

    def call(signature, images):
        return loaded.signatures[signature](images=tf.constant(images))

    return {"run": run, "path": path, "meta": meta, "z": z, "decode": decode, "call": call}


@pytest.fixture(scope="module")
def app(model, tmp_path_factory):
    from gradio_client import Client

    from dcgan_tf.explore.app import build_app, launch
    from dcgan_tf.explore.session import ExploreConfig, Explorer

    cache = str(tmp_path_factory.mktemp("explore-cache"))
    explorer = Explorer(ExploreConfig(model=model["path"], run_dir=model["run"], index_size=300,
                                      cache_dir=cache))
    demo = build_app(explorer, grid=8)
    url = launch(demo, _free_port(), block=False)
    try:
        yield {"url": url, "client": Client(url, verbose=False), "explorer": explorer, "cache": cache}
    finally:
        demo.close()


def test_samples_are_the_savedmodels_pixels_for_the_seeds(app, model):
    gallery = app["client"].predict(5, 6, api_name="/samples")
    seeds = [int(re.fullmatch(r"seed (\d+)", item["caption"]).group(1)) for item in gallery]
    assert seeds == list(range(5, 11))
    expected = model["decode"](model["z"](seeds))
    for item, pixels in zip(gallery, expected):
        assert np.array_equal(_pixels(item["image"]), pixels)


@pytest.mark.parametrize("method", ["linear", "spherical"])
def test_walk_ends_are_the_picked_samples(app, model, method):
    from dcgan_tf.investigations.common import cell_x

    a, b, steps, size = 3, 11, 5, model["meta"]["image_size"]
    strip, frame = app["client"].predict(a, b, method, steps, 0.0, api_name="/walk")
    strip = _pixels(strip)
    cells = [strip[2:2 + size, cell_x(i, size):cell_x(i, size) + size] for i in range(steps)]
    ends = model["decode"](model["z"]([a, b]))
    assert np.array_equal(cells[0], ends[0]) and np.array_equal(cells[-1], ends[1])
    assert np.array_equal(_pixels(frame), ends[0])
    last = app["client"].predict(a, b, method, 1.0, api_name="/walk_frame")
    assert np.array_equal(_pixels(last), ends[1])
    assert not np.array_equal(cells[2], ends[0])


def test_walk_frame_is_the_interpolated_z(app, model):
    za, zb = model["z"]([2, 9])
    middle = app["client"].predict(2, 9, "linear", 0.25, api_name="/walk_frame")
    assert np.array_equal(_pixels(middle), model["decode"]((0.75 * za + 0.25 * zb)[None])[0])
    # Spherical: along the great circle, sin-weighted (dcgan.torch #14).
    omega = np.arccos(np.dot(za, zb) / np.linalg.norm(za) / np.linalg.norm(zb))
    z = (np.sin(0.5 * omega) * za + np.sin(0.5 * omega) * zb) / np.sin(omega)
    middle = app["client"].predict(2, 9, "spherical", 0.5, api_name="/walk_frame")
    assert np.abs(_pixels(middle).astype(int) - model["decode"](z[None])[0]).max() <= 1


def test_arithmetic_equals_the_papers_recipe_and_the_library(app, model, tmp_path):
    from dcgan_tf.investigations.configs import ArithmeticConfig
    from dcgan_tf.investigations.latent import arithmetic

    figure, gallery, z = app["client"].predict(
        "1,2,3", "4, 5", "6", "A - B + C", 0.25, 4, 3, api_name="/arithmetic")
    mean = {name: model["z"](seeds).mean(axis=0)
            for name, seeds in {"A": [1, 2, 3], "B": [4, 5], "C": [6]}.items()}
    result = mean["A"] - mean["B"] + mean["C"]
    np.testing.assert_allclose(z["result_z"], result, rtol=1e-5, atol=1e-6)
    noise = np.random.default_rng(3).uniform(-0.25, 0.25, (4, result.size))
    np.testing.assert_allclose(z["neighbour_z"], result + noise, rtol=1e-5, atol=1e-5)
    assert [item["caption"] for item in gallery] == ["result"] + [f"neighbour {i}" for i in range(1, 5)]
    decoded = model["decode"](np.asarray(z["result_z"], np.float32)[None])[0]
    assert np.array_equal(_pixels(gallery[0]["image"]), decoded)
    # The command's report for the same concepts (grid seed 0: index = seed).
    report = arithmetic(model["path"], str(tmp_path), {"A": [1, 2, 3], "B": [4, 5], "C": [6]},
                        "A - B + C", ArithmeticConfig(neighbours=4, noise_seed=3, scale=2))
    assert z["result_z_norm"] == pytest.approx(report["result_z_norm"], rel=1e-6)
    command = _pixels(os.path.join(tmp_path, "arithmetic.png"))[::2, ::2]  # Written at scale 2.
    assert np.array_equal(command, _pixels(figure))


def test_arithmetic_errors_are_one_line(app):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=r"Empty: C"):
        app["client"].predict("1", "2", "", "A - B + C", 0.25, 4, 0, api_name="/arithmetic")


def test_discriminator_probability_and_nearest_in_feature_space(app, model):
    client = app["client"]
    from gradio_client import handle_file

    path = client.predict(7, api_name="/training_image")
    image = _pixels(path)
    probability, gallery = client.predict(handle_file(path), 3, api_name="/discriminate")
    direct = model["call"]("discriminate", image[None])["probability"].numpy()[0]
    assert probability == pytest.approx(float(direct), abs=1e-5)
    # Nearest by Euclidean distance over the SavedModel's features of the index's images.
    index = app["explorer"].training_images()
    assert len(index) == 300 and np.array_equal(index[7], image)
    features = model["call"]("features", index)["features"].numpy()
    query = model["call"]("features", image[None])["features"].numpy()[0]
    distances = np.linalg.norm(features - query, axis=1)
    order = np.argsort(distances)[:3]
    shown = [re.fullmatch(r"train #(\d+), distance (\S+)", item["caption"]) for item in gallery]
    assert [int(m.group(1)) for m in shown] == list(order) and order[0] == 7
    # The captions round to 3 significant digits: within half a unit of the third digit.
    np.testing.assert_allclose([float(m.group(2)) for m in shown], distances[order], rtol=5e-3, atol=1e-3)
    for item, i in zip(gallery, order):
        assert np.array_equal(_pixels(item["image"]), index[i])
    # Built once and cached on disk: the probe's feature cache holds the index's features.
    cached = os.listdir(os.path.join(app["cache"], "features"))
    assert len(cached) == 1 and cached[0].startswith("digits-train-explore")
    with np.load(os.path.join(app["cache"], "features", cached[0])) as entry:  # issue 28's .npz
        np.testing.assert_allclose(entry["features"], features, rtol=1e-5, atol=1e-5)


def test_run_panel_shows_the_runs_curves(app, model):
    text, curves = app["client"].predict(api_name="/run")
    with open(os.path.join(model["run"], "metrics.jsonl"), encoding="utf-8") as f:
        last = [json.loads(line) for line in f][-1]
    assert f"last logged step {last['step']}" in text and "not scored" in text
    assert f"step {model['meta']['step']}" in text
    assert _pixels(curves).shape[0] >= 3 * 220  # losses, D outputs, diversity


def test_a_model_in_tf_serving_answers_as_the_savedmodel(model):
    """`--server`: the same panels through the REST client (a loopback fake of TF Serving)."""
    from test_serving import FakeTFServing

    from dcgan_tf.explore.session import ExploreConfig, Explorer

    with FakeTFServing("digits", model["path"]) as fake:
        explorer = Explorer(ExploreConfig(server=fake.url, name="digits", index_size=50))
        pixels, seeds = explorer.samples(4, 3)
        assert seeds == [4, 5, 6] and np.array_equal(pixels, model["decode"](model["z"](seeds)))
        frames = explorer.walk(4, 6, "linear", 3)
        assert np.array_equal(frames[[0, 2]], model["decode"](model["z"]([4, 6])))
        image = explorer.training_images()[3]
        direct = model["call"]("discriminate", image[None])["probability"].numpy()[0]
        assert explorer.discriminate(image) == pytest.approx(float(direct), abs=1e-5)
        _, indices, distances = explorer.nearest(image, 2)
        assert indices[0] == 3 and distances[0] < 1e-3


def test_run_info_reads_kid_and_finds_the_run(tmp_path):
    run = tmp_path / "runs" / "faces"
    run.mkdir(parents=True)
    lines = [{"epoch": 1, "step": 10, "d_loss": 1.0, "g_loss": 2.0, "kid": 30.0},
             {"epoch": 2, "step": 20, "d_loss": 0.5, "g_loss": 2.5},
             {"epoch": 3, "step": 30, "d_loss": 0.7, "g_loss": 2.1, "kid": 12.5}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"torn')
    rows = run_info.read_metrics(str(run))
    assert [r["step"] for r in rows] == [10, 20, 30]
    meta = {"name": "faces", "step": 30, "epoch": 3, "metrics": lines[-1]}
    found = run_info.find_run(meta, root=str(tmp_path / "runs"))
    assert found == str(run)
    assert run_info.find_run({**meta, "step": 40}, root=str(tmp_path / "runs")) is None
    summary = run_info.summary(meta, rows)
    assert summary["kid"] == [(10, 30.0), (30, 12.5)] and summary["best_kid"] == (30, 12.5)
    assert run_info.curves(rows).shape == (2 * 220, 640, 3)  # Losses, and KID on its own.
    with pytest.raises(OSError, match="no metrics.jsonl"):
        run_info.find_run(meta, run_dir=str(tmp_path))


def test_bad_model_and_missing_gradio_are_one_line_errors(tmp_path, monkeypatch):
    import importlib.util

    from click.testing import CliRunner

    from dcgan_tf_cli.main import cli

    result = CliRunner().invoke(cli, ["explore", "--model", str(tmp_path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and "SavedModel" in result.output
    result = CliRunner().invoke(cli, ["explore", "--server", "http://127.0.0.1:9"])
    assert result.exit_code == 1 and "--name" in result.output

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "gradio" else real(name, *a))
    result = CliRunner().invoke(cli, ["explore", "--model", str(tmp_path)])
    assert result.exit_code == 1 and 'pip install -e ".[explore]"' in result.output


def test_core_install_does_not_need_gradio():
    # The CLI and the explore library load without Gradio (only app.py imports it) ...
    code = ("import sys, cli.main, dcgan_tf.explore.session, dcgan_tf.investigations.projector; "
            "print('gradio' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
    # ... and `pip install -e .` does not install it: it is in the extras only.
    out = subprocess.run([sys.executable, "setup.py", "-q", "egg_info", "--egg-base",
                          os.environ.get("TMPDIR", "/tmp")], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    requires = open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "dcgan_tf.egg-info",
                                 "requires.txt"), encoding="utf-8").read()
    core = requires.split("\n[")[0]
    assert "gradio" not in core and "[explore]" in requires


@pytest.mark.slow
def test_browser_walk_slider_changes_the_frame(app, tmp_path):
    """Headless Chromium loads the page, moves the walk slider and sees a new frame."""
    sys.path.insert(0, os.path.join(REPO, "docs"))
    try:
        from screenshots import walk_screenshot
    finally:
        sys.path.remove(os.path.join(REPO, "docs"))
    shot = str(tmp_path / "explore.png")
    before, after, picked = walk_screenshot(app["url"], shot, pick=3)
    assert picked == "3"  # A click on the sample of seed 3 set walk A.
    assert before and after and after != before
    with Image.open(shot) as image:
        page = np.asarray(image.convert("L"))
    assert page.shape[1] >= 1000 and page.std() > 10  # A rendered page, not a blank one.


# Issue 37: huge seeds get the range; D's buttons wait for their image, shown at a readable size.

@pytest.mark.parametrize("args, api, bound", [
    ((2**63 - 2, 4), "/samples", "maximum value 2147483647"),
    ((-1, 4), "/samples", "minimum value 0"),
    ((2**31 - 2, 8), "/samples", r"seeds in \[0, 2147483647\]"),
    ((0, 2**63 - 2, "linear", 4, 0.5), "/walk", "maximum value 2147483647"),
    (("1", str(2**63 - 2), "", "A - B", 0.25, 4, 0), "/arithmetic", r"in \[0, 2147483647\]"),
    (("1", "2", "", "A - B", 0.25, 4, 2**63 - 2), "/arithmetic", "maximum value 2147483647"),
])
def test_out_of_range_seeds_get_the_range_in_one_line(app, args, api, bound):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as error:
        app["client"].predict(*args, api_name=api)
    message = str(error.value)
    assert re.search(bound, message) and "too large" not in message, message
    assert len(message.strip().splitlines()) == 1, message


_STATE = """
const ask = document.querySelector('#ask-d');
const img = document.querySelector('#d-image img');
return [ask ? ask.disabled : null, img ? img.getBoundingClientRect().width : 0,
        img ? img.getBoundingClientRect().height : 0];
"""
# Records `_STATE` at every change of the page, so a state that lasts a few milliseconds is
# seen however fast the machine (polling from the test can miss it).
_WATCH = """
window.__states = [];
const sample = () => window.__states.push((() => {%s})());
new MutationObserver(sample).observe(document.body,
                                     {subtree: true, childList: true, attributes: true});
sample();
""" % _STATE


@pytest.mark.slow
def test_browser_ask_d_waits_for_the_training_image_shown_readable(app, tmp_path):
    """Headless Chromium: "Ask D" is disabled while "Use training image" loads; the image then
    fills its box (not a 32-pixel thumbnail) and D answers without an error badge."""
    import time

    sys.path.insert(0, os.path.join(REPO, "docs"))
    try:
        from screenshots import chrome
    finally:
        sys.path.remove(os.path.join(REPO, "docs"))
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chrome()
    wait = WebDriverWait(driver, 120)
    try:
        driver.get(app["url"])
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#samples img")) >= 8)
        next(b for b in driver.find_elements(By.CSS_SELECTOR, "button[role='tab']")
             if "Discriminator" in b.text).click()
        wait.until(lambda d: d.find_element(By.ID, "use-train").is_displayed())
        driver.execute_script(_WATCH)
        driver.find_element(By.ID, "use-train").click()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            disabled, width, _ = driver.execute_script(_STATE)
            if width and disabled is False:
                break
            time.sleep(0.02)
        states = driver.execute_script("return window.__states;")
        seen_disabled = [i for i, (disabled, _, _) in enumerate(states) if disabled]
        assert seen_disabled, states[:20]
        # Once disabled, never clickable again before the image is there.
        assert all(width for disabled, width, _ in states[seen_disabled[0]:] if not disabled), states
        time.sleep(0.5)
        shot = "/tmp/reliab-explore-discriminator.png"
        driver.save_screenshot(shot)
        driver.save_screenshot(str(tmp_path / "discriminator.png"))
        _, width, height = driver.execute_script(_STATE)
        assert min(width, height) >= 200, (width, height)  # Not the 32-pixel thumbnail.
        driver.find_element(By.ID, "ask-d").click()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#nearest img")) >= 8)
        time.sleep(0.5)
        assert "Error" not in driver.find_element(By.TAG_NAME, "body").text
        driver.save_screenshot("/tmp/reliab-explore-asked.png")
    finally:
        driver.quit()
