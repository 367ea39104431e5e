"""The paper's section 4.1 and 6 experiments on trained models, with their figures."""
