"""TasGen: dynamic samples from static labels (Yuan et al., 2025; arXiv 2506.02574)."""
