"""The paper's section 5 evaluation: the probe protocol, the L2-SVM and its baselines."""
