"""Evaluation and research code: protocols, baselines and scores run by the CLIs and benchmarks, not the app."""
