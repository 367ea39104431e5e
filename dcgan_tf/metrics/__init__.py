"""Sample-quality measures: FID, KID and precision/recall statistics, and the feature spaces
(a project classifier, Inception-v3) they are computed in.

A stage between data/ and training/: training logs a cheap KID with them
(`dcgan_tf.training.kid`), and scoring/ reports them for an export.
"""
