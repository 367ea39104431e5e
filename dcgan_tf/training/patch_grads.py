"""Strided convolutions whose kernel gradient is one matmul over image patches.

The kernel gradient of a convolution is `patches(x)^T @ dy`. On CPUs with AMX, oneDNN's
bfloat16 weight-gradient kernel is slow for the layers with a 4x4 output (the discriminator's
last block, the generator's first): 56 ms against 18 ms for the same product as
`extract_patches` and one matmul (8x8x256 -> 4x4x512, batch 128, `benchmarks/README.md`), while
oneDNN's kernel wins on the larger-image layers. The layers here compute that one gradient the
other way and leave the forward pass and the input gradient to TensorFlow's own ops; where
they pay is `dcgan_tf.training.run.patch_grads_pay`.
"""

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


def conv2d(x, kernel, strides):
    """`tf.nn.conv2d(x, kernel, strides, "SAME")` with `kernel_gradient` as its kernel gradient."""

    @tf.custom_gradient
    def op(x, kernel):
        def grad(dy):
            dx = tf.raw_ops.Conv2DBackpropInput(
                input_sizes=tf.shape(x), filter=kernel, out_backprop=dy,
                strides=[1, strides, strides, 1], padding="SAME")
            return dx, kernel_gradient(x, dy, kernel.shape[0], strides)

        return tf.nn.conv2d(x, kernel, strides, "SAME"), grad

    return op(x, tf.convert_to_tensor(kernel))


def conv2d_transpose(x, kernel, strides):
    """`tf.nn.conv2d_transpose` ("SAME", output `strides` times larger) with `kernel_gradient`.

    The transposed convolution's kernel gradient is a convolution's with the roles swapped:
    the output gradient is the image and `x` the output gradient.
    """

    @tf.custom_gradient
    def op(x, kernel):
        shape = tf.shape(x)
        out_shape = tf.stack([shape[0], shape[1] * strides, shape[2] * strides, kernel.shape[2]])

        def grad(dy):
            dx = tf.nn.conv2d(dy, kernel, strides, "SAME")
            return dx, kernel_gradient(dy, x, kernel.shape[0], strides)

        return tf.nn.conv2d_transpose(x, kernel, out_shape, strides, "SAME"), grad

    return op(x, tf.convert_to_tensor(kernel))


def _check_supported(layer):
    square = len(set(layer.strides)) == 1 and len(set(layer.kernel_size)) == 1
    plain = layer.padding == "same" and layer.data_format == "channels_last"
    if not (square and plain) or any(d != 1 for d in layer.dilation_rate):
        raise ValueError(f"{type(layer).__name__} supports square kernels and strides, 'same' "
                         "padding, channels_last and no dilation.")


@keras.saving.register_keras_serializable("dcgan_tf")
class PatchGradConv2D(layers.Conv2D):
    """`keras.layers.Conv2D` whose kernel gradient is `kernel_gradient`'s one matmul."""

    def build(self, input_shape):
        _check_supported(self)
        super().build(input_shape)

    def convolution_op(self, inputs, kernel):
        return conv2d(inputs, kernel, self.strides[0])


@keras.saving.register_keras_serializable("dcgan_tf")
class PatchGradConv2DTranspose(layers.Conv2DTranspose):
    """`keras.layers.Conv2DTranspose` whose kernel gradient is `kernel_gradient`'s one matmul."""

    def build(self, input_shape):
        _check_supported(self)
        if self.output_padding is not None:
            raise ValueError("PatchGradConv2DTranspose does not take output_padding.")
        super().build(input_shape)

    def call(self, inputs):
        outputs = conv2d_transpose(inputs, self.kernel, self.strides[0])
        if self.use_bias:
            outputs = outputs + self.bias
        return self.activation(outputs) if self.activation is not None else outputs
