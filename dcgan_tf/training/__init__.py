"""Training a DCGAN: models, losses, the GAN's train_step, strategy, checkpoints, monitoring and the run loop."""
