"""Errors raised by the ``ml`` library: one root class, subclasses mixing in ``ValueError``."""

from __future__ import annotations


class MLError(Exception):
    """Root of every error the ``ml`` library raises on purpose."""


class CodecError(MLError, ValueError):
    """An FSQ index or code is out of range or has the wrong shape."""


class TileError(MLError, ValueError):
    """A file is not a valid ESD tile (name, band count, dtype, corrupt data)."""


class StoreError(MLError):
    """The ESD store cannot answer a lookup."""


class NoCoverageError(StoreError, ValueError):
    """A lookup asked for an area or years that no tile of the store covers."""


class CompositeError(MLError, ValueError):
    """Observations cannot be composited into monthly steps (shapes, dates, no data)."""


class ModelError(MLError, ValueError):
    """A checkpoint or model input is invalid (band set, shapes, missing weights)."""


class SamplesError(MLError, ValueError):
    """A sample file or sample array is invalid (missing arrays, NaNs, unknown classes, too few samples)."""


class TasGenError(MLError, ValueError):
    """TasGen cannot run on the given samples (unknown class, too few samples of a class, NaNs)."""


class ProductError(MLError, ValueError):
    """Inputs of a map product or statistic are invalid (class maps, embeddings, years, grid, colours)."""


class GridError(MLError, ValueError):
    """A pixel grid cannot be built (no tile to snap to, too many pixels)."""
