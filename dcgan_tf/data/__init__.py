"""Files to tensors: dataset registry, on-disk format readers, prepared TFDS directories, the centre crop, NumPy splits and tf.data pipelines."""
