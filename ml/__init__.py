"""ESD Monitor's pure machine-learning library: ESD codec/tiles/store, ESDNet, TasGen, land cover.

Nothing below this package imports Django or the web application.
"""
