"""selfalign: bootstrap an instruction follower from a base model, using only the model itself."""

__version__ = "0.1.0"
