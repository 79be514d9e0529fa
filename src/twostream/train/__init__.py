"""Training: the shared loop and its schedule."""
