"""Portable exports (TFLite, ONNX, a web page), checked by running them in their runtimes."""

import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner

from dcgan_tf_cli.main import cli
from dcgan_tf.export import portable, portable_z
from dcgan_tf.export.portable_runtime import LiteRTModel, OnnxModel, check_z
from dcgan_tf.serving.clients import SavedModelClient
from dcgan_tf.versions import list_models

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The docs' screenshot of the page; the test refreshes it only when asked
# (DCGAN_TF_REFRESH_SCREENSHOTS=1), so a test run leaves the working tree as it was.
DOCS_SCREENSHOT = os.path.join(REPO, "docs", "images", "portable_web.png")
# A read-out unlike the paper's default, so every feature option crosses each converter.
FEATURE_FLAGS = ["--feature-pooling", "pyramid", "--feature-flip", "--feature-shift", "1",
                 "--feature-power"]


@pytest.fixture(scope="module")
def exported(digits_export, tmp_path_factory):
    """The session's 60-step digits run exported as every format through the CLI."""
    run, _ = digits_export
    base = str(tmp_path_factory.mktemp("portable-base"))
    result = CliRunner().invoke(cli, ["export", run, "--base-path", base, "--name", "digits",
                                      "--format", "savedmodel,tflite,onnx,web", *FEATURE_FLAGS])
    assert result.exit_code == 0, result.output
    return {"run": run, "base": base, "savedmodel": os.path.join(base, "digits", "1"),
            "portable": os.path.join(base, "digits-portable", "1"), "output": result.output}


@functools.lru_cache(maxsize=None)
def _client(path):
    return SavedModelClient(path)


def _images(exported):
    """Generated digits and noise, uint8 at the model's size."""
    z = np.random.default_rng(3).uniform(-1, 1, (6, 100)).astype(np.float32)
    made = _client(exported["savedmodel"]).generate(z)["pixels"]
    noise = np.random.default_rng(4).integers(0, 256, (4, 32, 32, 1), dtype=np.uint8)
    return np.concatenate([made, noise])


def test_layout_keeps_tf_serving_model_directory_to_versions(exported):
    base = exported["base"]
    # Only the version and the exporter's hidden lock file.
    assert [n for n in os.listdir(os.path.join(base, "digits")) if not n.startswith(".")] == ["1"]
    assert sorted(os.listdir(exported["portable"])) == ["onnx", "tflite", "web"]
    assert list_models(base) == ["digits"]  # The sibling is never served.
    with open(os.path.join(base, "models.config"), encoding="utf-8") as f:
        assert "portable" not in f.read()
    assert sorted(os.listdir(os.path.join(exported["portable"], "web", "ort"))) == [
        "LICENSE", "VERSION", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm",
        "ort.wasm.min.js"]
    assert "web: " in exported["output"]


@pytest.mark.parametrize("fmt", ["tflite", "onnx", "web"])
def test_contract_describes_the_files(exported, fmt):
    directory = os.path.join(exported["portable"], fmt)
    with open(os.path.join(directory, "contract.json"), encoding="utf-8") as f:
        contract = json.load(f)
    meta = _client(exported["savedmodel"]).metadata()
    assert contract["format"] == fmt
    assert contract["step"] == meta["step"] and contract["checkpoint"] == meta["checkpoint"]
    assert contract["run"] == os.path.abspath(exported["run"])
    assert contract["features"] == meta["features"] and contract["feature_dim"] == meta["feature_dim"]
    assert contract["z"]["distribution"] == "uniform" and contract["z_dim"] == 100
    generator = contract["models"]["generator"]
    batch = 1 if fmt == "tflite" else -1  # TFLite's generator takes one z per call.
    assert generator["inputs"]["z"] == {"dtype": "float32", "shape": [batch, 100], "range": [-1.0, 1.0]}
    assert generator["outputs"]["images"]["shape"] == [batch, 32, 32, 1]
    assert generator["outputs"]["pixels"]["dtype"] == "uint8"
    assert set(contract["models"]) == ({"generator"} if fmt == "web" else {"generator", "features"})
    for model in contract["models"].values():
        assert os.path.getsize(os.path.join(directory, model["file"])) > 10_000


def _ops_of(fmt, path):
    if fmt == "onnx":
        import onnx

        return {n.op_type for n in onnx.load(path).graph.node}
    from ai_edge_litert.interpreter import Interpreter

    return {op["op_name"] for op in Interpreter(model_path=path)._get_ops_details()}


@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_graphs_have_no_asserts_or_tf_fallbacks(exported, fmt):
    for name in ("generator", "features"):
        ops = _ops_of(fmt, os.path.join(exported["portable"], fmt, f"{name}.{fmt}"))
        assert not {op for op in ops if "Flex" in op or "Assert" in op or "EnsureShape" in op}, ops


@pytest.mark.parametrize("runtime", [LiteRTModel, OnnxModel], ids=["litert", "onnxruntime"])
def test_runtime_matches_the_savedmodel(exported, runtime):
    fmt = "tflite" if runtime is LiteRTModel else "onnx"
    model = runtime(os.path.join(exported["portable"], fmt))
    client = _client(exported["savedmodel"])
    z = portable_z.z_from_seeds(range(8), 100, "uniform")
    want, got = client.generate(z), model.generate(z)
    assert got["images"].shape == want["images"].shape == (8, 32, 32, 1)
    assert np.abs(got["images"] - want["images"]).max() <= 1e-4
    assert np.abs(got["pixels"].astype(int) - want["pixels"].astype(int)).max() <= 1
    assert got["images"].std() > 0.05  # A trained generator, not a constant image.
    images = _images(exported)
    want_f, got_f = client.features(images), model.features(images)["features"]
    assert got_f.shape == want_f.shape == (10, client.metadata()["feature_dim"])
    assert np.abs(got_f - want_f).max() <= 1e-4 * np.abs(want_f).max()


def test_one_image_batches_run(exported):
    z = portable_z.z_from_seeds([5], 100, "uniform")
    for runtime, fmt in ((LiteRTModel, "tflite"), (OnnxModel, "onnx")):
        out = runtime(os.path.join(exported["portable"], fmt)).generate(z)
        assert out["pixels"].shape == (1, 32, 32, 1)


def test_non_finite_z_is_refused_by_the_wrapper_not_the_graph(exported):
    import onnxruntime

    z = portable_z.z_from_seeds([0, 1], 100, "uniform")
    z[1, 3] = np.nan
    # The limitation docs state: the graph itself turns a NaN z into NaN images.
    session = onnxruntime.InferenceSession(
        os.path.join(exported["portable"], "onnx", "generator.onnx"),
        providers=["CPUExecutionProvider"])
    raw = session.run(["images"], {"z": z})[0]
    assert np.isfinite(raw[0]).all() and np.isnan(raw[1]).all()
    for runtime, fmt in ((LiteRTModel, "tflite"), (OnnxModel, "onnx")):
        model = runtime(os.path.join(exported["portable"], fmt))
        with pytest.raises(ValueError, match="finite values"):
            model.generate(z)
        with pytest.raises(ValueError, match=r"shape \[N, 100\]"):
            model.generate(np.zeros((2, 99), np.float32))
        with pytest.raises(ValueError, match="resize elsewhere"):
            model.features(np.zeros((1, 64, 64, 1), np.uint8))
    z[1, 3] = np.inf
    with pytest.raises(ValueError, match="1 non-finite"):
        check_z(z, 100)


def _mulberry32_reference(seed, n):
    """mulberry32 as published (JavaScript semantics), in NumPy uint32 arithmetic."""
    with np.errstate(over="ignore"):
        a, out = np.uint32(seed), []
        for _ in range(n):
            a = np.uint32(a + np.uint32(0x6D2B79F5))
            t = np.uint32(np.uint64(a ^ (a >> np.uint32(15))) * np.uint64(a | np.uint32(1)))
            t = np.uint32(np.uint64(t) + np.uint64(np.uint32(
                np.uint64(t ^ (t >> np.uint32(7))) * np.uint64(t | np.uint32(61))))) ^ t
            out.append(int(t ^ (t >> np.uint32(14))))
    return out


def test_portable_z_follows_mulberry32_and_its_distributions():
    # Published first outputs of mulberry32(0) are 1144304738 and 1416247; the reference agrees.
    assert _mulberry32_reference(0, 2) == [1144304738, 1416247]
    state, outputs = 12345, []
    for _ in range(5):
        state, x = portable_z.mulberry32(state)
        outputs.append(x)
    assert outputs == _mulberry32_reference(12345, 5)
    z = portable_z.z_from_seeds(range(200), 100, "uniform")
    assert z.dtype == np.float32 and z.min() >= -1 and z.max() < 1
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1 / np.sqrt(3)) < 0.01
    normal = portable_z.z_from_seeds(range(200), 101, "normal")
    assert normal.shape == (200, 101) and abs(normal.mean()) < 0.02 and abs(normal.std() - 1) < 0.02
    assert not np.array_equal(z[0], z[1])
    with pytest.raises(ValueError, match="integer in"):
        portable_z.z_from_seed(-1, 100, "uniform")


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
def test_javascript_z_equals_python_z_in_node():
    source = os.path.join(REPO, "dcgan_tf", "export", "web_assets", "portable_z.js")
    script = (f"{open(source, encoding='utf-8').read()}\nconst out = {{}};"
              "for (const d of ['uniform', 'normal']) out[d] = [0, 1, 77, 4294967295]"
              ".map(s => Array.from(zFromSeed(s, 9, d)));"
              "console.log(JSON.stringify(out));")
    got = json.loads(subprocess.run(["node", "-e", script], capture_output=True, text=True,
                                    check=True).stdout)
    for dist, rows in got.items():
        want = portable_z.z_from_seeds([0, 1, 77, 4294967295], 9, dist)
        np.testing.assert_array_equal(np.array(rows, np.float32), want)


def test_bad_formats_and_existing_directories(exported, tmp_path):
    with pytest.raises(ValueError, match="comma list of savedmodel, tflite, onnx, web"):
        portable.parse_formats("tflite,coreml")
    assert portable.parse_formats("web, tflite,web") == ("tflite", "web")
    result = CliRunner().invoke(cli, ["export", exported["run"], "--format", "pt"])
    assert result.exit_code == 2 and "Received: format='pt'" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(cli, ["export", exported["run"], "--format", "tflite",
                                      "--portable-dir", exported["portable"]])
    assert result.exit_code == 1 and "already exists. Pass --overwrite" in result.output
    assert portable.next_version(exported["base"], "digits") == 2
    result = CliRunner().invoke(cli, ["export", exported["run"], "--portable-dir", "x"])
    assert result.exit_code == 2 and "--portable-dir is for the portable formats" in result.output


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def browser(exported):
    """Headless Chromium (Debian's) on the web export, served by `python -m http.server`."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    if not (os.path.exists("/usr/bin/chromium") and os.path.exists("/usr/bin/chromedriver")):
        pytest.skip("needs Debian's chromium and chromium-driver")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
         "--directory", os.path.join(exported["portable"], "web")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1100,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        for _ in range(50):  # The server takes a moment to listen.
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        driver.get(f"http://127.0.0.1:{port}/index.html")
        for _ in range(240):
            status = driver.execute_script("return document.getElementById('status').textContent")
            if status != "Loading the model...":
                break
            time.sleep(0.25)
        assert status == "Ready.", status
        yield driver
    finally:
        driver.quit()
        server.terminate()
        server.wait()


_CANVAS_PIXELS = """
return Array.from(document.querySelectorAll(arguments[0])).map(c =>
  Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data));
"""


@pytest.mark.slow
def test_web_page_draws_the_savedmodels_pixels(exported, browser, tmp_path):
    client = _client(exported["savedmodel"])
    # The page's seed -> z is Python's, bit for bit, in Chromium too.
    for dist in ("uniform", "normal"):
        js = browser.execute_script(
            f"return [0, 3, 99].map(s => Array.from(zFromSeed(s, 100, '{dist}')))")
        np.testing.assert_array_equal(np.array(js, np.float32),
                                      portable_z.z_from_seeds([0, 3, 99], 100, dist))
    # The grid: seeds 0..15 drawn on canvases, against the SavedModel's pixels for those z.
    rgba = np.array(browser.execute_script(_CANVAS_PIXELS, "#grid canvas"), np.int32)
    assert rgba.shape == (16, 32 * 32 * 4)
    rgba = rgba.reshape(16, 32, 32, 4)
    want = client.generate(portable_z.z_from_seeds(range(16), 100, "uniform"))["pixels"]
    assert (rgba[..., 3] == 255).all() and (rgba[..., 0] == rgba[..., 2]).all()
    assert np.abs(rgba[..., :1] - want.astype(np.int32)).max() <= 1
    # The walk: halfway between seeds 0 and 1.
    za, zb = portable_z.z_from_seeds([0, 1], 100, "uniform")
    walk = np.array(browser.execute_script(_CANVAS_PIXELS, "#walkCanvas"), np.int32)
    mid = client.generate((0.5 * za + 0.5 * zb)[None].astype(np.float32))["pixels"]
    assert np.abs(walk.reshape(1, 32, 32, 4)[..., :1] - mid.astype(np.int32)).max() <= 1
    latency = browser.execute_script("return document.getElementById('latency').textContent")
    assert latency.endswith("runs)") and float(latency.split()[0]) > 0
    # The page refuses a NaN z rather than drawing NaN images.
    error = browser.execute_async_script(
        "const done = arguments[0]; const z = new Float32Array(100); z[7] = NaN;"
        "window.dcgan.generate(z).then(() => done('ran'), e => done(e.message));")
    assert "finite values" in error
    shot = DOCS_SCREENSHOT if os.environ.get("DCGAN_TF_REFRESH_SCREENSHOTS") else tmp_path / "page.png"
    browser.save_screenshot(str(shot))
    assert os.path.getsize(shot) > 10_000


def test_portable_formats_alone_take_the_next_version(exported):
    result = CliRunner().invoke(cli, ["export", exported["run"], "--base-path", exported["base"],
                                      "--name", "digits", "--format", "onnx"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"onnx: {os.path.join(exported['base'], 'digits-portable', '2', 'onnx')}"
    assert sorted(os.listdir(os.path.join(exported["base"], "digits-portable", "2"))) == ["onnx"]
    assert [n for n in os.listdir(os.path.join(exported["base"], "digits")) if not n.startswith(".")] == ["1"]
