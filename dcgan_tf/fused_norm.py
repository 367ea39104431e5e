"""Batch norm that trains through TensorFlow's fused kernel.

Keras 3's `BatchNormalization` computes the moments and the normalisation as separate ops,
upcast to float32, and differentiates them op by op. TensorFlow's `FusedBatchNormV3` (oneDNN
on CPU, cuDNN on GPU) does the forward pass in one kernel and the backward pass in another,
several times faster in bf16 (`benchmarks/auto_choices.py`, pair `norm`). Same function, same moving statistics.
"""

import keras
import tensorflow as tf
from keras import layers


@keras.saving.register_keras_serializable("dcgan_tf")
class FusedBatchNormalization(layers.BatchNormalization):
    """`keras.layers.BatchNormalization` whose training-mode call on NHWC images is fused.

    Inference, masks, renorm, synchronised statistics and non-image inputs take Keras' own
    path; so does everything when the layer is frozen (`trainable=False`).
    """

    def _fusable(self, inputs, training, mask):
        return (training and self.trainable and mask is None and not self.renorm
                and not self.synchronized and len(inputs.shape) == 4
                and self.axis in (-1, 3))

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        channels = inputs.shape[-1]
        # Batch norm's variables stay float32 under mixed precision (Keras reads them uncast).
        gamma = self.gamma if self.scale else tf.ones((channels,), "float32")
        beta = self.beta if self.center else tf.zeros((channels,), "float32")
        x = tf.cast(inputs, self.compute_dtype)
        empty = tf.constant([], "float32")
        # The raw op: `tf.compat.v1.nn.fused_batch_norm` would raise epsilon to 1.001e-5.
        y, mean, variance = tf.raw_ops.FusedBatchNormV3(
            x=x, scale=gamma, offset=beta, mean=empty,
            variance=empty, epsilon=self.epsilon, data_format="NHWC", is_training=True)[:3]
        # The kernel returns the Bessel-corrected variance; Keras' moving average takes the
        # batch's own (biased) one, which is also what normalised the batch.
        count = tf.cast(tf.reduce_prod(tf.shape(x)[:3]), "float32")
        variance = variance * tf.maximum(count - 1.0, 1.0) / count
        momentum = self.momentum
        self.moving_mean.assign(self.moving_mean * momentum + mean * (1.0 - momentum))
        self.moving_variance.assign(self.moving_variance * momentum + variance * (1.0 - momentum))
        return tf.cast(y, self.compute_dtype)
