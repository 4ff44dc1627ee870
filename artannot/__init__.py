"""artannot: annotate artwork fragments with noun phrases."""

__version__ = "0.1.0"
