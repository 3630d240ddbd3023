"""TasGen: dynamic samples from static labels (Yuan et al., 2025; arXiv 2506.02574).

Exported for the app: :data:`UNKNOWN` (the open-set dynamic class) and :func:`is_unknown`, and the
review-queue value :func:`review_value` / :func:`review_order`.
"""

from ml.tasgen.openset import UNKNOWN, is_unknown
from ml.tasgen.review import review_order, review_value

__all__ = ["UNKNOWN", "is_unknown", "review_order", "review_value"]
