"""The playground (a TensorFlow-Playground-like page whose network is real glassnet, trained in the server) and the
CNN and attention explorers; `routes()` gives their pages and API to the `glassnet serve` app."""

from glassnet.serve.playground.routes import routes

__all__ = ["routes"]
