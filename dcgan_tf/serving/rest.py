"""TF Serving's REST predict API (port 8501): JSON requests in row or columnar format.

Needs only the standard library and NumPy.
"""

import http.client
import json
import socket
import threading
import time
import urllib.parse

import numpy as np

from dcgan_tf.config import REQUEST_FORMATS  # noqa: F401  (re-exported)
from dcgan_tf.serving.signatures import (
    Client, ServingError, describe, informative_line, text_of,
)


class RestClient(Client):
    """Calls a model served by TF Serving through its REST predict API.

    Args:
        url: The server's REST address, e.g. `http://localhost:8501`.
        name: The model's name in the server's config.
        version: A version number, or `None` for the newest the server has loaded.
        timeout: Seconds each call may take as a whole (connecting, sending, the answer's
            headers and body), however slowly the server drips its bytes. Defaults to 30.
        request_format: `"row"` (`instances`) or `"columnar"` (`inputs`). Defaults to `"row"`.
    """

    def __init__(self, url, name, version=None, timeout=30.0, request_format="row"):
        if not url.startswith(("http://", "https://")):
            raise ServingError(
                "Expected an http:// or https:// URL for the server (or grpc://host:port for gRPC). "
                f"Received: {url!r}"
            )
        if request_format not in REQUEST_FORMATS:
            raise ServingError(
                f"Expected `request_format` in {REQUEST_FORMATS}. Received: {request_format!r}"
            )
        self.url = url.rstrip("/")
        self.name = name
        self.version = version
        self.timeout = timeout
        self.request_format = request_format
        self._signatures = None
        self._metadata = None

    @property
    def model_url(self):
        """`URL/v1/models/NAME[/versions/V]`, the root of this model's REST endpoints."""
        url = f"{self.url}/v1/models/{self.name}"
        return f"{url}/versions/{self.version}" if self.version is not None else url

    def status(self):
        """The server's `model_version_status` answer for this model."""
        return self._call("GET", self.model_url)

    def signatures(self):
        if self._signatures is None:
            answer = self._call("GET", f"{self.model_url}/metadata")
            try:
                defs = answer["metadata"]["signature_def"]["signature_def"]
            except (KeyError, TypeError):
                raise ServingError(
                    f"{self.model_url}/metadata did not return signature definitions."
                ) from None
            self._signatures = describe(defs)
        return self._signatures

    def request_body(self, signature, inputs):
        """The predict request TF Serving's REST API documents, for validated `inputs`."""
        if self.request_format == "columnar":
            return {"signature_name": signature, "inputs": {k: v.tolist() for k, v in inputs.items()}}
        sizes = {len(v) for v in inputs.values()}
        if len(sizes) != 1 or 0 in sizes:
            raise ServingError(
                "The row format needs every input to have the same, non-zero batch size. "
                f"Received sizes: { {k: len(v) for k, v in inputs.items()} }"
            )
        n = sizes.pop()
        return {
            "signature_name": signature,
            "instances": [{k: v[i].tolist() for k, v in inputs.items()} for i in range(n)],
        }

    def _predict(self, signature, inputs):
        answer = self._call("POST", f"{self.model_url}:predict", self.request_body(signature, inputs))
        outputs = self.signatures()[signature]["outputs"]
        key = "outputs" if self.request_format == "columnar" else "predictions"
        if key not in answer:
            raise ServingError(f"TF Serving's answer has no {key!r}: {str(answer)[:200]}")
        values = answer[key]
        if self.request_format == "row":
            if values and isinstance(values[0], dict):
                values = {k: [row[k] for row in values] for k in values[0]}
        if not isinstance(values, dict):
            values = {next(iter(outputs)): values}  # One output: TF Serving leaves out its name.
        return {k: _to_array(v, outputs[k][0] if k in outputs else None) for k, v in values.items()}

    def _timed_out(self):
        return f"TF Serving at {self.url} did not answer within {self.timeout}s."

    def _call(self, method, url, body=None):
        """One request with a whole-call deadline: a watchdog shuts the socket at `timeout`.

        A socket timeout alone bounds each read, so a server that sends a byte a second
        would never time out.
        """
        data = json.dumps(body).encode("utf-8") if body is not None else None
        parts = urllib.parse.urlsplit(url)
        kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        try:
            connection = kind(parts.hostname, parts.port, timeout=self.timeout)
        except (ValueError, http.client.InvalidURL) as e:
            raise ServingError(f"Cannot use the server URL {self.url}: {e}") from None
        expired = threading.Event()

        def expire():
            expired.set()
            sock = connection.sock
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        watchdog = threading.Timer(self.timeout, expire)
        watchdog.daemon = True
        started = time.monotonic()
        watchdog.start()
        try:
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            connection.request(method, target, body=data,
                               headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            raw = response.read()
            status, reason = response.status, response.reason
        except (OSError, http.client.HTTPException) as e:
            if (expired.is_set() or isinstance(e, (socket.timeout, TimeoutError))
                    or time.monotonic() - started >= self.timeout):
                raise ServingError(self._timed_out()) from None
            if isinstance(e, (ConnectionRefusedError, socket.gaierror)):
                raise ServingError(
                    f"Cannot reach TF Serving at {self.url} ({e}). Is tensorflow_model_server "
                    "running with --rest_api_port, and is the URL right?"
                ) from None
            raise ServingError(f"Connection to TF Serving at {self.url} failed: {e}") from None
        finally:
            watchdog.cancel()
            connection.close()
        if expired.is_set():
            raise ServingError(self._timed_out())
        if status >= 400:
            raise ServingError(
                f"TF Serving answered HTTP {status} for {url}: {_error_text(raw, reason)}")
        try:
            return json.loads(raw)
        except ValueError:
            raise ServingError(f"TF Serving at {url} answered with non-JSON: {raw[:200]!r}") from None


def _to_array(values, dtype):
    if dtype == "string":
        return np.array([text_of(v) for v in np.ravel(np.array(values, dtype=object))], dtype=object)
    return np.asarray(values, dtype=dtype) if dtype else np.asarray(values)


def _error_text(raw, reason):
    try:
        return informative_line(str(json.loads(raw)["error"])) or "(empty error)"
    except (ValueError, KeyError, TypeError):
        return raw[:200].decode("utf-8", "replace").strip() or str(reason)
