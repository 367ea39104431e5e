"""A serving-only generator: batch norm folded into the weights, small transposed convs as matmuls.

In inference mode batch norm is a per-channel affine map, so it folds into the preceding layer's
kernel and a bias. And a stride-2 transposed convolution on a small input is dominated by
oneDNN's per-call weight reordering: written as one matmul plus an overlap-add (col2im) it
runs several times faster (`benchmarks/serve_latency.py`).

In bfloat16 the weights are stored in bf16 and each matmul takes them as its left operand,
`kernel^T @ x^T`: AMX repacks only its right operand (the small activation) per call, so at
batch 1 it runs faster than `x @ kernel` (`benchmarks/serve_latency.py`).
"""

import numpy as np
import tensorflow as tf
from keras import layers

from dcgan_tf.config import SERVING_PRECISIONS

# Inputs at most this size (height) take the matmul path; larger ones are faster in oneDNN's
# transposed convolution (measured at batch 1 and 64 by `benchmarks/serve_latency.py`).
MATMUL_MAX_SIZE = 8
_DTYPES = {"fp32": tf.float32, "bf16": tf.bfloat16}


def _bn_affine(layer):
    """Per-channel (scale, shift) of an inference-mode batch-norm layer."""
    gamma, beta, mean, var = (np.asarray(v.numpy(), np.float64) for v in layer.weights)
    scale = gamma / np.sqrt(var + layer.epsilon)
    return scale, beta - mean * scale


def conv_transpose_matmul(x, kernel_matrix, channels, transposed=False):
    """Stride-2, kernel-4, "same" transposed convolution as a matmul and an overlap-add.

    Args:
        x: (N, H, W, Cin) input.
        kernel_matrix: (Cin, 4 * 4 * Cout): the Keras kernel (4, 4, Cout, Cin) transposed
            to (Cin, 4, 4, Cout) and flattened; its transpose when `transposed`.
        channels: Cout.
        transposed: Whether `kernel_matrix` is (4 * 4 * Cout, Cin) and the left operand.

    Returns:
        (N, 2H, 2W, Cout), equal to `tf.nn.conv2d_transpose(x, kernel, ..., 2, "SAME")`.
    """
    h, w, cin = x.shape[1], x.shape[2], x.shape[3]
    rows = tf.reshape(x, (-1, cin))
    if transposed:
        r = tf.transpose(tf.matmul(kernel_matrix, rows, transpose_b=True))
    else:
        r = tf.matmul(rows, kernel_matrix)
    # Kernel row kh = 2a + b lands on output row 2(i + a) + b - 1: a shifts the coarse grid,
    # b is the phase that depth-to-space interleaves.
    r = tf.reshape(r, (-1, h, w, 2, 2, 2, 2, channels))
    out = 0
    for a1 in (0, 1):
        for a2 in (0, 1):
            part = r[:, :, :, a1, :, a2, :, :]
            out += tf.pad(part, [[0, 0], [a1, 1 - a1], [a2, 1 - a2], [0, 0], [0, 0], [0, 0]])
    out = tf.reshape(tf.transpose(out, (0, 1, 3, 2, 4, 5)), (-1, 2 * h + 2, 2 * w + 2, channels))
    return out[:, 1 : 2 * h + 1, 1 : 2 * w + 1, :]


class FoldedGenerator(tf.Module):
    """The generator's inference-mode function with batch norm folded in.

    Holds one `tf.Variable` per folded kernel and bias, and nothing of Keras, so a SavedModel
    that tracks it stores each weight once and loads in plain TensorFlow and TF Serving.

    Args:
        generator: An unconditional Keras generator from `dcgan_tf.training.models.build_generator`.
        precision: `"fp32"` or `"bf16"`: the dtype of the stored weights and of the computation
            (inputs and outputs stay float32). bf16 pays on CPUs with AMX (measured) and
            should on GPUs with bf16 tensor cores (not measured). Defaults to `"fp32"`.
    """

    def __init__(self, generator, precision="fp32"):
        super().__init__(name="folded_generator")
        if precision not in SERVING_PRECISIONS:
            raise ValueError(
                f"Expected `precision` in {SERVING_PRECISIONS}. Received: precision={precision!r}"
            )
        dtype = _DTYPES[precision]
        self.transposed = precision == "bf16"
        self.steps = []  # (kind, input size, channels) per upsampling layer; static config
        project = generator.get_layer("project")
        scale, shift = _bn_affine(generator.get_layer("project_bn"))
        c0 = scale.shape[0]
        kernel = project.kernel.numpy().reshape(-1, 4, 4, c0) * scale
        self.project = _variable(kernel.reshape(kernel.shape[0], -1), dtype, "project")
        self.project_bias = _variable(shift, dtype, "project_bias")
        self.kernels, self.biases, size = [], [], 4
        deconvs = [l for l in generator.layers if isinstance(l, layers.Conv2DTranspose)]
        for layer in deconvs:
            k = np.asarray(layer.kernel.numpy(), np.float64)  # (K, K, Cout, Cin)
            norm = _norm_after(generator, layer)
            if norm is not None:
                scale, shift = _bn_affine(norm)
                k = k * scale[None, None, :, None]
            else:
                shift = layer.bias.numpy() if layer.use_bias else np.zeros(k.shape[2])
            matmul = k.shape[0] == 4 and size <= MATMUL_MAX_SIZE
            if matmul:
                k = np.transpose(k, (3, 0, 1, 2)).reshape(k.shape[3], -1)
                k = k.T if self.transposed else k
            self.kernels.append(_variable(k, dtype, f"{layer.name}_kernel"))
            self.biases.append(_variable(shift, dtype, f"{layer.name}_bias"))
            self.steps.append(("matmul" if matmul else "conv", size, int(layer.filters)))
            size *= 2
        self.c0 = int(c0)

    def __call__(self, z):
        z = tf.cast(z, self.project.dtype)
        x = tf.reshape(tf.matmul(z, self.project), (-1, 4, 4, self.c0))
        x = tf.nn.relu(x + self.project_bias)
        last = len(self.steps) - 1
        for i, ((kind, size, channels), kernel, bias) in enumerate(zip(self.steps, self.kernels, self.biases)):
            if kind == "matmul":
                x = conv_transpose_matmul(x, kernel, channels, self.transposed)
            else:
                shape = tf.stack([tf.shape(x)[0], 2 * size, 2 * size, channels])
                x = tf.nn.conv2d_transpose(x, kernel, shape, 2, "SAME")
            x = tf.nn.bias_add(tf.ensure_shape(x, [None, 2 * size, 2 * size, channels]), bias)
            x = tf.tanh(tf.cast(x, tf.float32)) if i == last else tf.nn.relu(x)
        return x


def _variable(value, dtype, name):
    # Folding runs in float64 for every precision; the weights are rounded to `dtype` here.
    return tf.Variable(tf.cast(np.asarray(value, np.float32), dtype), name=name)


def _norm_after(model, layer):
    """The BatchNormalization layer that directly follows `layer`, or `None`."""
    names = [l.name for l in model.layers]
    following = model.layers[names.index(layer.name) + 1]
    return following if isinstance(following, layers.BatchNormalization) else None
