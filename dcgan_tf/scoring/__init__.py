"""Sample quality of a generator: FID, KID and precision/recall in a named feature space."""
