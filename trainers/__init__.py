"""Training and evaluation library for the zoo, with absl command-line mains (`python -m trainers.train`)."""
