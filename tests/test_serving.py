"""The TF Serving REST client, against a loopback server that speaks TF Serving's REST protocol.

`tensorflow_model_server` cannot be installed here, so `FakeTFServing` answers the documented
endpoints (predict in row and columnar format, model status, model metadata) by running the
exported SavedModel's signatures, and records every request so tests can check the exact JSON.
"""

import http.server
import json
import re
import socket
import sys
import threading
import time

import numpy as np
import pytest
from click.testing import CliRunner

from dcgan_tf.training import checkpoint
from dcgan_tf.config import ModelConfig, TrainConfig
from dcgan_tf.export.savedmodel import export_savedmodel
from dcgan_tf.serving.clients import RestClient, SavedModelClient, ServingError, open_client

_PREDICT = re.compile(r"^/v1/models/([^/:]+)(?:/versions/(\d+))?:predict$")
_MODEL = re.compile(r"^/v1/models/([^/:]+)(?:/versions/(\d+))?(/metadata)?$")


class FakeTFServing:
    """A loopback HTTP server answering like TF Serving's REST API for one SavedModel.

    Args:
        name: The model name it serves.
        path: The SavedModel version directory.
        version: The version number it reports.
    """

    def __init__(self, name, path, version=1):
        import tensorflow as tf

        from dcgan_tf.serving.clients import read_signature_defs

        self.name, self.version = name, version
        self.model = tf.saved_model.load(path)
        self.signature_defs = read_signature_defs(path)
        self.requests = []
        self.delay = 0.0
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                fake.requests.append(("GET", self.path, None))
                self._answer(*fake.get(self.path))

            def do_POST(self):
                with fake.lock:
                    fake.inflight += 1
                try:
                    body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                    fake.requests.append(("POST", self.path, body, self.headers.get("Content-Type")))
                    fake.release.wait(fake.delay)
                    self._answer(*fake.post(self.path, body))
                finally:
                    with fake.lock:
                        fake.inflight -= 1

            def _answer(self, code, payload):
                raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                # A client that timed out has closed its socket: not the server's failure.
                if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                    super().handle_error(request, client_address)

        self.lock = threading.Lock()
        self.inflight = 0
        self.release = threading.Event()
        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def wait_idle(self, timeout=10.0):
        """Waits for requests in flight, so no handler thread outlives its test."""
        deadline = time.monotonic() + timeout
        while self.inflight and time.monotonic() < deadline:
            time.sleep(0.01)

    def _find(self, name, version):
        if name == "broken":
            return 502, b"<html>Bad Gateway</html>"
        if name != self.name or (version is not None and int(version) != self.version):
            which = f"Specific({name}, {version})" if version else f"Latest({name})"
            return 404, {"error": f"Servable not found for request: {which}"}
        return None

    def get(self, path):
        match = _MODEL.match(path)
        if not match:
            return 404, {"error": "Malformed request: GET " + path}
        missing = self._find(match.group(1), match.group(2))
        if missing:
            return missing
        if match.group(3):
            return 200, {
                "model_spec": {"name": self.name, "signature_name": "", "version": str(self.version)},
                "metadata": {"signature_def": {
                    "@type": "type.googleapis.com/tensorflow.serving.SignatureDefMap",
                    "signature_def": self.signature_defs,
                }},
            }
        return 200, {"model_version_status": [{
            "version": str(self.version), "state": "AVAILABLE",
            "status": {"error_code": "OK", "error_message": ""},
        }]}

    def post(self, path, body):
        import tensorflow as tf

        match = _PREDICT.match(path)
        if not match:
            return 404, {"error": "Malformed request: POST " + path}
        missing = self._find(match.group(1), match.group(2))
        if missing:
            return missing
        try:
            request = json.loads(body)
        except ValueError as e:
            return 400, {"error": f"JSON Parse error: {e}"}
        name = request.get("signature_name", "serving_default")
        if name not in self.model.signatures:
            return 400, {"error": f'Serving signature name: "{name}" not found in signature def'}
        fn = self.model.signatures[name]
        specs = fn.structured_input_signature[1]
        if ("instances" in request) == ("inputs" in request):
            return 400, {"error": "Missing 'inputs' or 'instances' key"}
        if "instances" in request:
            rows = request["instances"]
            if rows and isinstance(rows[0], dict):
                values = {k: [row[k] for row in rows] for k in specs}
            else:
                values = {next(iter(specs)): rows}
        else:
            values = request["inputs"]
            if not isinstance(values, dict):
                values = {next(iter(specs)): values}
        try:
            tensors = {k: tf.constant(np.asarray(values[k]), dtype=specs[k].dtype) for k in specs}
            outputs = {k: v.numpy() for k, v in fn(**tensors).items()}
        except Exception as e:  # TF Serving reports any failure as an error payload.
            return 400, {"error": str(getattr(e, "message", e))}
        plain = {k: _jsonable(v) for k, v in sorted(outputs.items())}
        if "instances" in request:
            if len(plain) == 1:
                return 200, {"predictions": next(iter(plain.values()))}
            n = len(next(iter(outputs.values())))
            return 200, {"predictions": [{k: v[i] for k, v in plain.items()} for i in range(n)]}
        return 200, {"outputs": next(iter(plain.values())) if len(plain) == 1 else plain}


def _jsonable(array):
    if array.dtype == object:
        return [v.decode("utf-8") for v in array.ravel()]
    return array.tolist()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from dcgan_tf.training.run import build_gan

    run_dir = str(tmp_path_factory.mktemp("run") / "r")
    cfg = ModelConfig(image_size=32, channels=1, ngf=8, ndf=8)
    train_cfg = TrainConfig(out=run_dir)
    gan = build_gan(cfg, train_cfg)
    checkpoint.write_run_config(run_dir, cfg, train_cfg)
    checkpoint.save(gan, run_dir, step=3, epoch=1)
    return export_savedmodel(run_dir, str(tmp_path_factory.mktemp("sm")), name="digits")


@pytest.fixture(scope="module")
def server(exported):
    with FakeTFServing("digits", exported) as fake:
        yield fake


@pytest.fixture
def fake(server):
    server.requests.clear()
    server.delay = 0.0
    server.release.clear()
    yield server
    server.release.set()
    server.wait_idle()


def _posts(fake):
    return [(r[1], json.loads(r[2]), r[3]) for r in fake.requests if r[0] == "POST"]


def test_row_format_request_is_tf_servings(fake, exported):
    client = RestClient(fake.url, "digits")
    got = client.sample([5, 6])
    ((path, body, content_type),) = _posts(fake)
    assert path == "/v1/models/digits:predict" and content_type == "application/json"
    assert body == {"signature_name": "sample", "instances": [{"seed": 5}, {"seed": 6}]}
    local = SavedModelClient(exported).sample([5, 6])
    assert got["pixels"].dtype == np.uint8 and np.array_equal(got["pixels"], local["pixels"])
    assert got["z"].dtype == np.float32 and np.array_equal(got["z"], local["z"])


def test_columnar_format_request_is_tf_servings(fake, exported):
    client = RestClient(fake.url, "digits", version=1, request_format="columnar")
    z = np.random.default_rng(0).uniform(-1, 1, (2, 100)).astype("float32")
    got = client.generate(z)
    ((path, body, _),) = _posts(fake)
    assert path == "/v1/models/digits/versions/1:predict"
    assert body == {"signature_name": "serving_default", "inputs": {"z": z.tolist()}}
    local = SavedModelClient(exported).generate(z)
    assert np.array_equal(got["images"], local["images"])  # float32 survives JSON exactly.


@pytest.mark.parametrize("request_format", ["row", "columnar"])
def test_every_signature_through_rest(fake, exported, request_format):
    client = RestClient(fake.url, "digits", request_format=request_format)
    local = SavedModelClient(exported)
    images = np.random.default_rng(1).integers(0, 256, (2, 28, 28, 3), dtype=np.uint8)
    assert np.allclose(client.discriminate(images)["probability"],
                       local.discriminate(images)["probability"], atol=1e-6)
    features = client.features(images)
    assert features.shape == (2, 16 * (8 + 16 + 32)) and features.dtype == np.float32
    assert np.allclose(features, local.features(images), atol=1e-6)
    assert client.metadata()["step"] == 3 and client.metadata()["z_dim"] == 100
    posted = [body["signature_name"] for _, body, _ in _posts(fake)]
    assert posted == ["discriminate", "features", "metadata"]


def test_status_and_signatures_from_the_server(fake):
    client = RestClient(fake.url + "/", "digits")
    assert client.status()["model_version_status"][0]["state"] == "AVAILABLE"
    assert client.signatures()["serving_default"]["inputs"]["z"] == ("float32", (None, 100))


def test_inputs_are_checked_before_sending(fake):
    client = RestClient(fake.url, "digits")
    with pytest.raises(ServingError, match=r"`z` of shape \(N, 100\).*\(1, 7\)"):
        client.generate(np.zeros((1, 7), np.float32))
    with pytest.raises(ServingError, match="uint8 pixels"):
        client.features(np.zeros((1, 32, 32, 1), np.float32))
    assert _posts(fake) == []


def test_error_payloads_become_one_line(fake):
    client = RestClient(fake.url, "digits")
    with pytest.raises(ServingError, match=r"HTTP 400 .*1 \(grey\) or 3 \(RGB\) channels"):
        client.discriminate(np.zeros((1, 8, 8, 2), np.uint8))
    with pytest.raises(ServingError, match=r"HTTP 404 .*Servable not found for request: Latest\(faces\)"):
        RestClient(fake.url, "faces").status()
    with pytest.raises(ServingError, match=r"HTTP 404 .*Specific\(digits, 9\)"):
        RestClient(fake.url, "digits", version=9).status()
    with pytest.raises(ServingError, match=r"HTTP 502 .*Bad Gateway"):
        RestClient(fake.url, "broken").status()


def test_connection_refused_is_clear():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ServingError, match=rf"Cannot reach TF Serving at http://127.0.0.1:{port} .*running"):
        RestClient(f"http://127.0.0.1:{port}", "digits", timeout=5).status()


def test_slow_server_times_out(fake):
    client = RestClient(fake.url, "digits", timeout=0.3)
    client.signatures()
    fake.delay = 30.0
    start = time.perf_counter()
    with pytest.raises(ServingError, match=r"did not answer within 0.3s"):
        client.sample([1])
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize("kwargs, match", [
    ({"server": "localhost:8501", "name": "digits"}, "http:// or https://"),
    ({"server": "http://localhost:8501"}, "--name"),
    ({}, "either a SavedModel path"),
    ({"server": "http://h:1", "name": "d", "request_format": "csv"}, "request_format"),
])
def test_bad_client_arguments(kwargs, match):
    with pytest.raises(ServingError, match=match):
        open_client(**kwargs)


def test_cli_sample_through_the_server(fake, tmp_path):
    from PIL import Image

    from dcgan_tf_cli.main import cli

    out, zfile = tmp_path / "grid.png", tmp_path / "z.npy"
    result = CliRunner().invoke(cli, [
        "sample", "--server", fake.url, "--name", "digits", "--n", "4", "--seed", "10",
        "--request-format", "columnar", "--out-file", str(out), "--save-z", str(zfile),
    ])
    assert result.exit_code == 0, result.output
    assert _posts(fake)[0][1] == {"signature_name": "sample", "inputs": {"seed": [10, 11, 12, 13]}}
    with Image.open(out) as image:
        assert image.size == (2 * 34 + 2, 2 * 34 + 2)
    assert np.load(zfile).shape == (4, 100)
    result = CliRunner().invoke(cli, ["sample", "--server", fake.url, "--name", "faces"])
    assert result.exit_code == 1 and "Servable not found" in result.output


class FakeGrpcServing:
    """An in-process gRPC server implementing TF Serving's `PredictionService` for one SavedModel.

    `Predict` runs the SavedModel's signature on the request's `TensorProto`s and answers with
    `TensorProto`s; `GetModelMetadata` answers the signature definitions as a `SignatureDefMap`.
    Unknown models answer NOT_FOUND, as TF Serving does.
    """

    def __init__(self, name, path, version=1):
        from concurrent import futures

        import grpc
        import tensorflow as tf
        from tensorflow.core.protobuf import saved_model_pb2
        from tensorflow_serving.apis import (
            get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc,
        )

        saved = saved_model_pb2.SavedModel()
        with open(f"{path}/saved_model.pb", "rb") as f:
            saved.ParseFromString(f.read())
        defs = get_model_metadata_pb2.SignatureDefMap()
        for key, sig in saved.meta_graphs[0].signature_def.items():
            defs.signature_def[key].CopyFrom(sig)
        model = tf.saved_model.load(path)
        fake = self
        self.requests = []

        class Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
            def _check(self, spec, context):
                if spec.name != name or (spec.HasField("version") and spec.version.value != version):
                    context.abort(grpc.StatusCode.NOT_FOUND,
                                  f"Servable not found for request: Latest({spec.name})")

            def GetModelMetadata(self, request, context):
                self._check(request.model_spec, context)
                answer = get_model_metadata_pb2.GetModelMetadataResponse()
                answer.model_spec.name, answer.model_spec.version.value = name, version
                answer.metadata["signature_def"].Pack(defs)
                return answer

            def Predict(self, request, context):
                self._check(request.model_spec, context)
                fake.requests.append(request)
                fn = model.signatures[request.model_spec.signature_name or "serving_default"]
                try:
                    outputs = fn(**{k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()})
                except Exception as e:  # TF Serving answers INVALID_ARGUMENT with TF's message.
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(getattr(e, "message", e)))
                answer = predict_pb2.PredictResponse()
                for k, v in outputs.items():
                    answer.outputs[k].CopyFrom(tf.make_tensor_proto(v.numpy()))
                return answer

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Servicer(), self.server)
        self.address = f"grpc://127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"

    def __enter__(self):
        self.server.start()
        return self

    def __exit__(self, *exc):
        self.server.stop(grace=None)


@pytest.fixture(scope="module")
def grpc_server(exported):
    with FakeGrpcServing("digits", exported) as server:
        yield server


def test_grpc_rest_and_savedmodel_give_the_same_images(grpc_server, fake, exported):
    from dcgan_tf.serving.clients import GrpcClient

    seeds = [3, 4, 5, 6]
    with GrpcClient(grpc_server.address, "digits", version=1) as client:
        over_grpc = client.sample(seeds)
    over_rest = RestClient(fake.url, "digits").sample(seeds)
    local = SavedModelClient(exported).sample(seeds)
    for key in ("z", "images", "pixels"):
        assert over_grpc[key].dtype == local[key].dtype and over_grpc[key].shape == local[key].shape
        assert np.array_equal(over_grpc[key], local[key]), key
        assert np.array_equal(over_rest[key], local[key]), key
    # Binary tensors on the wire: the seeds as packed int64, not JSON text.
    request = grpc_server.requests[-1]
    assert request.model_spec.signature_name == "sample" and request.model_spec.version.value == 1
    assert request.inputs["seed"].tensor_content == np.asarray(seeds, np.int64).tobytes()


def test_every_signature_through_grpc(grpc_server, exported):
    from dcgan_tf.serving.clients import GrpcClient

    client = open_client(server=grpc_server.address, name="digits")
    assert isinstance(client, GrpcClient)
    local = SavedModelClient(exported)
    images = np.random.default_rng(2).integers(0, 256, (2, 40, 36, 3), dtype=np.uint8)
    z = np.random.default_rng(3).uniform(-1, 1, (2, 100)).astype("float32")
    assert np.array_equal(client.generate(z)["images"], local.generate(z)["images"])
    assert np.allclose(client.discriminate(images)["logits"], local.discriminate(images)["logits"],
                       atol=1e-6)
    assert np.allclose(client.features(images), local.features(images), atol=1e-6)
    assert grpc_server.requests[-1].inputs["images"].tensor_content == images.tobytes()
    assert client.metadata()["step"] == 3 and client.metadata()["z_dim"] == 100
    assert client.signatures() == local.signatures()
    client.close()


def test_grpc_errors_are_one_line(grpc_server):
    from dcgan_tf.serving.clients import GrpcClient

    with GrpcClient(grpc_server.address, "digits") as client:
        with pytest.raises(ServingError, match=r"INVALID_ARGUMENT .*1 \(grey\) or 3 \(RGB\) channels"):
            client.discriminate(np.zeros((1, 8, 8, 2), np.uint8))
        with pytest.raises(ServingError, match=r"`z` of shape \(N, 100\)"):
            client.generate(np.zeros((1, 7), np.float32))
    with pytest.raises(ServingError, match=r"NOT_FOUND .*Latest\(faces\)"):
        GrpcClient(grpc_server.address, "faces").signatures()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ServingError, match=rf"Cannot reach TF Serving at grpc://127.0.0.1:{port} "):
        GrpcClient(f"grpc://127.0.0.1:{port}", "digits", timeout=5).signatures()
    with pytest.raises(ServingError, match="grpc://host:port"):
        GrpcClient("grpc://", "digits")


def test_cli_sample_through_grpc(grpc_server, exported, tmp_path):
    from PIL import Image

    from dcgan_tf_cli.main import cli

    out = tmp_path / "grid.png"
    result = CliRunner().invoke(cli, [
        "sample", "--server", grpc_server.address, "--name", "digits", "--n", "4", "--seed", "10",
        "--out-file", str(out),
    ])
    assert result.exit_code == 0, result.output
    local = SavedModelClient(exported).sample(np.arange(10, 14))["pixels"]
    with Image.open(out) as image:
        grid = np.asarray(image)
    assert np.array_equal(grid[2:34, 2:34], local[0, ..., 0])  # First cell, after the 2-pixel pad.
    result = CliRunner().invoke(cli, ["sample", "--server", grpc_server.address, "--name", "faces"])
    assert result.exit_code == 1 and "NOT_FOUND" in result.output and "Traceback" not in result.output


# Issue 37, finding 3: a whole-call deadline, whatever the server drips.

class DripServer:
    """A TCP server that answers any request with HTTP headers, then one byte a second."""

    def __init__(self, headers=True):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.headers = headers
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn):
        with conn:
            try:
                conn.recv(65536)
                if self.headers:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: 100000\r\n\r\n")
                while not self.stop.wait(1.0):
                    conn.sendall(b" ")
            except OSError:
                pass

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.mark.parametrize("headers", [True, False])
def test_rest_call_against_a_drip_server_ends_at_its_deadline(headers):
    with DripServer(headers=headers) as server:
        start = time.monotonic()
        with pytest.raises(ServingError, match=r"did not answer within 2.0s"):
            RestClient(server.url, "digits", timeout=2.0).status()
        assert time.monotonic() - start < 3.5


def test_cli_sample_against_a_drip_server_ends_in_about_its_timeout():
    from dcgan_tf_cli.main import cli

    with DripServer() as server:
        start = time.monotonic()
        result = CliRunner().invoke(cli, ["sample", "--server", server.url, "--name", "digits",
                                          "--timeout", "5"])
        elapsed = time.monotonic() - start
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [
        f"Error: TF Serving at {server.url} did not answer within 5.0s."], result.output
    assert 4.5 < elapsed < 8, elapsed


def test_grpc_call_against_a_drip_server_ends_at_its_deadline():
    from dcgan_tf.serving.grpc_client import GrpcClient

    with DripServer() as server:
        address = server.url.replace("http://", "grpc://")
        start = time.monotonic()
        with GrpcClient(address, "digits", timeout=2.0) as client:
            with pytest.raises(ServingError) as error:
                client.signatures()
        assert time.monotonic() - start < 3.5
    assert len(str(error.value).splitlines()) == 1
