"""TF Serving's gRPC API (port 8500): `PredictionService` with binary `TensorProto`s.

Tensors travel as `tf.make_tensor_proto` encodes them (raw bytes for numbers), not as JSON
lists, so a batch of uint8 images costs its own size and float32 values arrive bit for bit.
Signatures come from `GetModelMetadata`, like the REST client's `/metadata`.
"""

from google.protobuf import json_format
import grpc
import tensorflow as tf
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

from dcgan_tf.serving.signatures import Client, ServingError, describe, informative_line

SCHEME = "grpc://"


def _target(address):
    if not address.startswith(SCHEME) or not address[len(SCHEME):].strip("/"):
        raise ServingError(f"Expected a grpc://host:port address. Received: {address!r}")
    return address[len(SCHEME):].rstrip("/")


class GrpcClient(Client):
    """Calls a model served by TF Serving through its gRPC `PredictionService`.

    Args:
        address: The server's gRPC address, e.g. `grpc://localhost:8500`.
        name: The model's name in the server's config.
        version: A version number, or `None` for the newest the server has loaded.
        timeout: Seconds to wait for each answer (connecting included). Defaults to 30.
    """

    def __init__(self, address, name, version=None, timeout=30.0):
        self.address = address.rstrip("/")
        self.name = name
        self.version = version
        self.timeout = timeout
        self._channel = grpc.insecure_channel(_target(address))
        self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self._signatures = None
        self._metadata = None

    def close(self):
        """Closes the channel."""
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _model_spec(self, spec, signature=""):
        spec.name = self.name
        if self.version is not None:
            spec.version.value = int(self.version)
        spec.signature_name = signature

    def signatures(self):
        if self._signatures is None:
            request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
            self._model_spec(request.model_spec)
            answer = self._call(self._stub.GetModelMetadata, request)
            defs = get_model_metadata_pb2.SignatureDefMap()
            if "signature_def" not in answer.metadata or not answer.metadata["signature_def"].Unpack(defs):
                raise ServingError(f"{self.address} did not return signature definitions for {self.name}.")
            self._signatures = describe({
                k: json_format.MessageToDict(v, preserving_proto_field_name=True)
                for k, v in defs.signature_def.items()
            })
        return self._signatures

    def _predict(self, signature, inputs):
        request = predict_pb2.PredictRequest()
        self._model_spec(request.model_spec, signature)
        for key, value in inputs.items():
            request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
        answer = self._call(self._stub.Predict, request)
        return {k: tf.make_ndarray(v) for k, v in answer.outputs.items()}

    def _call(self, method, request):
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as e:
            code, details = e.code(), informative_line(e.details() or "") or "(no details)"
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise ServingError(f"TF Serving at {self.address} did not answer within {self.timeout}s.") from None
            if code == grpc.StatusCode.UNAVAILABLE:
                raise ServingError(
                    f"Cannot reach TF Serving at {self.address} ({details}). Is tensorflow_model_server "
                    "running with --port, and is the address right?"
                ) from None
            raise ServingError(f"TF Serving answered {code.name} for {self.name}: {details}") from None
