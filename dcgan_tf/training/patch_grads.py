"""Strided convolutions that compute their kernel gradient another way than oneDNN's own op.

The kernel gradient of a strided convolution is `patches(x)^T @ dy`. TensorFlow's bfloat16
`Conv2DBackpropFilter` (oneDNN) is slow on CPUs for the small-image layers, and two rewrites
of the same sum are faster there (`benchmarks/auto_choices.py`, `benchmarks/step_profile.py`):
- `"patches"`: `extract_patches` and one matmul; fastest on AMX for the 8x8 and 4x4 layers,
  slower than oneDNN's for larger images.
- `"dilated"`: one forward convolution with the batch and channel axes swapped, the output
  gradient as a filter dilated by the stride; fastest on AVX512-BF16 without AMX for the
  layers up to 16x16.
The layers here take one of them for the kernel gradient and leave the forward pass and the
input gradient to TensorFlow's own ops; which layers take which is
`dcgan_tf.training.hardware_plan.kernel_grads_choice`."""

import keras
import tensorflow as tf
from keras import layers


def kernel_gradient(inputs, out_backprop, kernel_size, strides):
    """dL/dkernel of `conv2d(inputs, kernel, strides, "SAME")` given dL/doutput `out_backprop`.

    Args:
        inputs: (N, H, W, C_in) images the convolution read.
        out_backprop: (N, H / strides, W / strides, C_out) gradient of its output.
        kernel_size: The square kernel's side.
        strides: The stride in both directions.

    Returns:
        The (kernel_size, kernel_size, C_in, C_out) kernel gradient, in `inputs`' dtype.
    """
    k, c_in, c_out = kernel_size, inputs.shape[-1], out_backprop.shape[-1]
    # Each patch is flattened as (row, column, channel): the kernel's own layout.
    patches = tf.image.extract_patches(inputs, [1, k, k, 1], [1, strides, strides, 1],
                                       [1, 1, 1, 1], "SAME")
    grad = tf.matmul(tf.reshape(patches, (-1, k * k * c_in)),
                     tf.reshape(out_backprop, (-1, c_out)), transpose_a=True)
    return tf.reshape(grad, (k, k, c_in, c_out))


def dilated_kernel_gradient(inputs, out_backprop, kernel_size, strides):
    """`kernel_gradient`'s result as one forward convolution (oneDNN's fast path).

    dW[a, b, c, o] = sum over n, i, j of x_pad[n, s*i + a, s*j + b, c] * dy[n, i, j, o] is a
    "VALID" convolution of x_pad with channels as its batch and the batch as its channels, by
    the filter dy (batch as input channels), dilated by the stride s.
    """
    k, (height, width) = kernel_size, inputs.shape[1:3]
    pads = [[0, 0]]
    for size, out in ((height, out_backprop.shape[1]), (width, out_backprop.shape[2])):
        total = max((out - 1) * strides + k - size, 0)  # "SAME": the extra pixel goes after.
        pads.append([total // 2, total - total // 2])
    padded = tf.pad(inputs, pads + [[0, 0]])
    grad = tf.nn.conv2d(tf.transpose(padded, [3, 1, 2, 0]),
                        tf.transpose(out_backprop, [1, 2, 0, 3]), 1, "VALID", dilations=strides)
    return tf.transpose(grad[:, :k, :k], [1, 2, 0, 3])


KERNEL_GRADIENTS = {"patches": kernel_gradient, "dilated": dilated_kernel_gradient}


def conv2d(x, kernel, strides, method="patches"):
    """`tf.nn.conv2d(x, kernel, strides, "SAME")` whose kernel gradient is `method`'s
    (`KERNEL_GRADIENTS`)."""
    kernel_grad = KERNEL_GRADIENTS[method]

    @tf.custom_gradient
    def op(x, kernel):
        def grad(dy):
            dx = tf.raw_ops.Conv2DBackpropInput(
                input_sizes=tf.shape(x), filter=kernel, out_backprop=dy,
                strides=[1, strides, strides, 1], padding="SAME")
            return dx, kernel_grad(x, dy, kernel.shape[0], strides)

        return tf.nn.conv2d(x, kernel, strides, "SAME"), grad

    return op(x, tf.convert_to_tensor(kernel))


def conv2d_transpose(x, kernel, strides, method="patches"):
    """`tf.nn.conv2d_transpose` ("SAME", output `strides` times larger) whose kernel gradient is
    `method`'s.

    The transposed convolution's kernel gradient is a convolution's with the roles swapped:
    the output gradient is the image and `x` the output gradient.
    """
    kernel_grad = KERNEL_GRADIENTS[method]

    @tf.custom_gradient
    def op(x, kernel):
        shape = tf.shape(x)
        out_shape = tf.stack([shape[0], shape[1] * strides, shape[2] * strides, kernel.shape[2]])

        def grad(dy):
            dx = tf.nn.conv2d(dy, kernel, strides, "SAME")
            return dx, kernel_grad(dy, x, kernel.shape[0], strides)

        return tf.nn.conv2d_transpose(x, kernel, out_shape, strides, "SAME"), grad

    return op(x, tf.convert_to_tensor(kernel))


def _check_supported(layer):
    square = len(set(layer.strides)) == 1 and len(set(layer.kernel_size)) == 1
    plain = layer.padding == "same" and layer.data_format == "channels_last"
    if not (square and plain) or any(d != 1 for d in layer.dilation_rate):
        raise ValueError(f"{type(layer).__name__} supports square kernels and strides, 'same' "
                         "padding, channels_last and no dilation.")


class _KernelGradMethod:
    """The `method` argument and config entry shared by the two layers."""

    def __init__(self, *args, method="patches", **kwargs):
        if method not in KERNEL_GRADIENTS:
            raise ValueError(f"Expected `method` to be one of {tuple(KERNEL_GRADIENTS)}. "
                             f"Received: method={method!r}")
        super().__init__(*args, **kwargs)
        self.method = method

    def get_config(self):
        return {**super().get_config(), "method": self.method}


@keras.saving.register_keras_serializable("dcgan_tf")
class PatchGradConv2D(_KernelGradMethod, layers.Conv2D):
    """`keras.layers.Conv2D` whose kernel gradient is `method`'s (`KERNEL_GRADIENTS`)."""

    def build(self, input_shape):
        _check_supported(self)
        super().build(input_shape)

    def convolution_op(self, inputs, kernel):
        return conv2d(inputs, kernel, self.strides[0], self.method)


@keras.saving.register_keras_serializable("dcgan_tf")
class PatchGradConv2DTranspose(_KernelGradMethod, layers.Conv2DTranspose):
    """`keras.layers.Conv2DTranspose` whose kernel gradient is `method`'s (`KERNEL_GRADIENTS`)."""

    def build(self, input_shape):
        _check_supported(self)
        if self.output_padding is not None:
            raise ValueError("PatchGradConv2DTranspose does not take output_padding.")
        super().build(input_shape)

    def call(self, inputs):
        outputs = conv2d_transpose(inputs, self.kernel, self.strides[0], self.method)
        if self.use_bias:
            outputs = outputs + self.bias
        return self.activation(outputs) if self.activation is not None else outputs
