"""Files to tensors: dataset registry, on-disk format readers, NumPy splits and tf.data pipelines."""
