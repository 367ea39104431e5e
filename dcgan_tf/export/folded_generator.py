"""A serving-only generator: batch norm folded into the weights, small transposed convs as matmuls.

In inference mode batch norm is a per-channel affine map, so it folds into the preceding layer's
kernel and a bias. And a stride-2 transposed convolution on a small input is dominated by
oneDNN's per-call weight reordering (4x4x1024 -> 8x8x512 at batch 1 ran at about 6 GFLOP/s
here): written as one matmul plus an overlap-add (col2im) it runs about 10x faster.
"""

import numpy as np
import tensorflow as tf
from keras import layers

# Inputs at most this size (height) take the matmul path; larger ones are faster in oneDNN's
# transposed convolution (measured at batch 1 and 64, see benchmarks/README.md).
MATMUL_MAX_SIZE = 8


def _bn_affine(layer):
    """Per-channel (scale, shift) of an inference-mode batch-norm layer."""
    gamma, beta, mean, var = (np.asarray(v.numpy(), np.float64) for v in layer.weights)
    scale = gamma / np.sqrt(var + layer.epsilon)
    return scale, beta - mean * scale


def conv_transpose_matmul(x, kernel_matrix, channels):
    """Stride-2, kernel-4, "same" transposed convolution as a matmul and an overlap-add.

    Args:
        x: (N, H, W, Cin) input.
        kernel_matrix: (Cin, 4 * 4 * Cout): the Keras kernel (4, 4, Cout, Cin) transposed
            to (Cin, 4, 4, Cout) and flattened.
        channels: Cout.

    Returns:
        (N, 2H, 2W, Cout), equal to `tf.nn.conv2d_transpose(x, kernel, ..., 2, "SAME")`.
    """
    h, w, cin = x.shape[1], x.shape[2], x.shape[3]
    r = tf.matmul(tf.reshape(x, (-1, cin)), kernel_matrix)
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
    """

    def __init__(self, generator):
        super().__init__(name="folded_generator")
        self.steps = []  # (kind, input size, channels) per upsampling layer; static config
        project = generator.get_layer("project")
        scale, shift = _bn_affine(generator.get_layer("project_bn"))
        c0 = scale.shape[0]
        kernel = project.kernel.numpy().reshape(-1, 4, 4, c0) * scale
        self.project = tf.Variable(kernel.reshape(kernel.shape[0], -1).astype("float32"), name="project")
        self.project_bias = tf.Variable(shift.astype("float32"), name="project_bias")
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
            self.kernels.append(tf.Variable(k.astype("float32"), name=f"{layer.name}_kernel"))
            self.biases.append(tf.Variable(np.asarray(shift, "float32"), name=f"{layer.name}_bias"))
            self.steps.append(("matmul" if matmul else "conv", size, int(layer.filters)))
            size *= 2
        self.c0 = int(c0)

    def __call__(self, z):
        x = tf.reshape(tf.matmul(z, self.project), (-1, 4, 4, self.c0))
        x = tf.nn.relu(x + self.project_bias)
        last = len(self.steps) - 1
        for i, ((kind, size, channels), kernel, bias) in enumerate(zip(self.steps, self.kernels, self.biases)):
            if kind == "matmul":
                x = conv_transpose_matmul(x, kernel, channels)
            else:
                shape = tf.stack([tf.shape(x)[0], 2 * size, 2 * size, channels])
                x = tf.nn.conv2d_transpose(x, kernel, shape, 2, "SAME")
            x = tf.nn.bias_add(tf.ensure_shape(x, [None, 2 * size, 2 * size, channels]), bias)
            x = tf.tanh(x) if i == last else tf.nn.relu(x)
        return x


def _norm_after(model, layer):
    """The BatchNormalization layer that directly follows `layer`, or `None`."""
    names = [l.name for l in model.layers]
    following = model.layers[names.index(layer.name) + 1]
    return following if isinstance(following, layers.BatchNormalization) else None
