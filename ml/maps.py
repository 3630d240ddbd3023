"""``python -m ml.maps``: the map-products CLI (legends, change products); the code is in :mod:`ml.products`.

Colour maps and legends live in :mod:`ml.colormaps`, COG writers and readers in :mod:`ml.cog`,
product file names and the change products in :mod:`ml.products`.
"""

from __future__ import annotations

from ml.products import main

if __name__ == "__main__":
    raise SystemExit(main())
