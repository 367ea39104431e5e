"""The SavedModel contract: signature, input and output names and dtypes.

TF Serving clients, the probe and `dcgan-tf sample` rely on these names, so they are versioned:
a change that breaks a consumer bumps `CONTRACT_VERSION`, which every export records in its
metadata. This module imports nothing heavy, so consumers can read it without TensorFlow.
"""

CONTRACT_VERSION = 1

# The generate signature: TF Serving calls it when a request names no signature.
GENERATE = "serving_default"

# Signature name -> {"inputs": {name: dtype}, "outputs": {name: dtype}}, in TensorFlow dtype names.
SIGNATURES = {
    # Generate: z (N, z_dim) -> images in [-1, 1] and the same images as uint8 pixels.
    GENERATE: {
        "inputs": {"z": "float32"},
        "outputs": {"images": "float32", "pixels": "uint8"},
    },
    # One image per int64 seed; the z it used comes back, so a cell can be regenerated alone.
    "sample": {
        "inputs": {"seed": "int64"},
        "outputs": {"z": "float32", "images": "float32", "pixels": "uint8"},
    },
    # uint8 images of any size and 1 or 3 channels -> one real/fake logit each.
    "discriminate": {
        "inputs": {"images": "uint8"},
        "outputs": {"logits": "float32", "probability": "float32"},
    },
    # uint8 images -> the paper's pooled multi-layer discriminator features (section 5).
    "features": {
        "inputs": {"images": "uint8"},
        "outputs": {"features": "float32"},
    },
    # TF Serving rejects signatures without inputs, so `request` is a dummy: one JSON string
    # (the export's metadata) comes back per element.
    "metadata": {
        "inputs": {"request": "int32"},
        "outputs": {"metadata": "string"},
    },
}

# Signatures only some exports have. `classify`: exports of a semi-supervised run
# (`dcgan-tf train --labels N`), whose D is a K-class classifier: uint8 images of any size ->
# class probabilities (N, K) and the most probable class (N,). An addition: contract 1 holds.
OPTIONAL_SIGNATURES = {
    "classify": {
        "inputs": {"images": "uint8"},
        "outputs": {"probabilities": "float32", "classes": "int64"},
    },
}


def signature_contract(name):
    """The `{"inputs", "outputs"}` of signature `name`, required or optional."""
    return SIGNATURES.get(name) or OPTIONAL_SIGNATURES[name]


# The `sample` signature draws z for seed s with the stateless Philox pair (s, SAMPLE_SALT), so
# `dcgan-tf sample --seed S` cell i is seed S + i everywhere (export, investigate commands).
SAMPLE_SALT = 0x6463_6761_6E

# TF Serving's convention for extra files that travel with a version (not loaded as a graph).
METADATA_ASSET = "assets.extra/metadata.json"
