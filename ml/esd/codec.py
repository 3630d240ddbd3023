"""FSQ codec of ESD: one ``uint16`` index per monthly step <-> a 6-dim code in [-1, 1].

Finite Scalar Quantization (Mentzer et al., 2023, arXiv 2309.15505) with levels ``[8, 8, 8, 5, 5, 5]``
(64,000 codes), as used by ESDNet (Chen et al., 2026, arXiv 2601.11183). The quantizer itself is
``vector_quantize_pytorch.FSQ``: the torch path (training) goes through it; the numpy path (lookups)
is a ``(64000, 6)`` table, :data:`CODEBOOK`, built from the official decoding::

    level_i = (idx // basis_i) % L_i,  basis = cumprod([1, 8, 8, 8, 5, 5])
    code_i  = (level_i - L_i // 2) / (L_i // 2)

The tests check, for all 64,000 indices, that the table, the formula and ``FSQ`` agree value for value.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Final

import numpy as np

from ml.errors import CodecError

if TYPE_CHECKING:  # torch is only needed by the training path
    import torch
    from vector_quantize_pytorch import FSQ

LEVELS: Final[tuple[int, ...]] = (8, 8, 8, 5, 5, 5)
CODE_DIM: Final[int] = len(LEVELS)  # 6 dims per monthly step
STEPS: Final[int] = 12  # monthly steps per pixel-year
CODEBOOK_SIZE: Final[int] = int(np.prod(LEVELS))  # 64,000

_LEVELS = np.asarray(LEVELS, dtype=np.int64)
_BASIS = np.cumprod(np.concatenate([[1], _LEVELS[:-1]])).astype(np.int64)  # [1, 8, 64, 512, 2560, 12800]
_HALF = (_LEVELS // 2).astype(np.float32)  # [4, 4, 4, 2, 2, 2]


def _official_codes(indices: np.ndarray) -> np.ndarray:
    """The official decoding formula, ``(...,)`` int64 -> ``(..., 6)`` float32 (no range check)."""
    level = (indices[..., None] // _BASIS) % _LEVELS  # (..., 6) level of each dim, 0 .. L_i - 1
    return ((level - _HALF) / _HALF).astype(np.float32)


CODEBOOK: Final[np.ndarray] = _official_codes(np.arange(CODEBOOK_SIZE, dtype=np.int64))
"""``(64000, 6)`` float32, read-only: row ``i`` is the code of index ``i``."""
CODEBOOK.setflags(write=False)


def _check_indices(idx: np.ndarray) -> np.ndarray:
    if not np.issubdtype(idx.dtype, np.integer):
        raise CodecError(f"FSQ indices must be integers, got dtype {idx.dtype}")
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= CODEBOOK_SIZE:
            raise CodecError(f"FSQ indices must lie in [0, {CODEBOOK_SIZE}), got [{lo}, {hi}]")
    return idx


def indices_to_codes(indices: np.ndarray) -> np.ndarray:
    """Decode FSQ indices ``(...,)`` (any integer dtype, values < 64,000) to codes ``(..., 6)`` float32.

    Code values lie on the FSQ grid: multiples of 1/4 in [-1, 0.75] for the three 8-level dims and
    multiples of 1/2 in [-1, 1] for the three 5-level dims. Index 0 decodes to all -1.
    """
    idx = _check_indices(np.asarray(indices))
    return CODEBOOK[idx]


# decode_steps splits an index into its low 9 bits (dims 0-2: 8 levels = 3 bits each, pure bit fields)
# and the rest (idx >> 9 in 0..124: dims 3-5), decoded from a 125-entry table that stays in L1 cache.
_LOW_DIMS = 3
_LOW_BITS = 9
_HIGH_TABLE = np.ascontiguousarray(CODEBOOK[:: 1 << _LOW_BITS, _LOW_DIMS:].T)  # (3, 125) float32
if LEVELS[:_LOW_DIMS] != (8, 8, 8) or _HIGH_TABLE.shape[1] * (1 << _LOW_BITS) != CODEBOOK_SIZE:
    raise CodecError("decode_steps assumes levels (8, 8, 8, ...) packed as 3-bit fields")


def decode_steps(indices: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Decode indices ``(..., 12, H, W)`` to codes ``(..., 12, 6, H, W)`` float32 (channel-first layout).

    The layout of windowed lookups: the 6 code dims sit right after the step axis. Same values as
    :func:`indices_to_codes` (tested on all indices), about twice as fast as a table gather per dim:
    the three 8-level dims are 3-bit fields of the index, the three 5-level dims come from a 125-entry
    table indexed by ``idx >> 9``. Writes into ``out`` (allocated when ``None``).
    """
    idx = _check_indices(np.asarray(indices))
    if idx.ndim < 3:
        raise CodecError(f"indices must have shape (..., steps, H, W), got {idx.shape}")
    shape = idx.shape[:-2] + (CODE_DIM,) + idx.shape[-2:]
    if out is None:
        out = np.empty(shape, dtype=np.float32)
    elif out.shape != shape or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise CodecError(f"out must be a C-contiguous float32 array {shape}, got {out.dtype} {out.shape}")
    idx = idx.astype(np.uint16, copy=False)
    h, w = idx.shape[-2:]
    planes = idx.reshape(-1, h, w)  # (N, H, W): one plane per (leading..., step)
    out_planes = out.reshape(-1, CODE_DIM, h, w)  # (N, 6, H, W) view of out
    chunk = max(1, _CHUNK_ELEMENTS // max(1, h * w))  # planes per chunk: temporaries stay in cache
    for start in range(0, planes.shape[0], chunk):
        _decode_chunk(planes[start : start + chunk], out_planes[start : start + chunk])
    return out


_CHUNK_ELEMENTS = 1 << 17  # ~128k indices per chunk (256 kB of uint16)


def _decode_chunk(idx: np.ndarray, out: np.ndarray) -> None:
    """Decode ``idx (n, H, W)`` uint16 into ``out (n, 6, H, W)`` float32."""
    for d in range(_LOW_DIMS):
        plane = out[:, d]
        np.multiply((idx >> (3 * d)) & 7, np.float32(1 / _HALF[d]), out=plane, casting="unsafe")
        plane -= np.float32(1.0)
    high = (idx >> _LOW_BITS).astype(np.intp)
    for d in range(_LOW_DIMS, CODE_DIM):
        np.take(_HIGH_TABLE[d - _LOW_DIMS], high, out=out[:, d], mode="wrap")


def codes_to_indices(codes: np.ndarray) -> np.ndarray:
    """Encode codes ``(..., 6)`` on the FSQ grid to indices ``(...,)`` uint16.

    Codes are rounded to the nearest grid level and clipped to the valid range, so slightly noisy
    codes (e.g. after float arithmetic) map to their nearest index.
    """
    c = np.asarray(codes, dtype=np.float64)
    if c.shape[-1:] != (CODE_DIM,):
        raise CodecError(f"codes must have a last axis of {CODE_DIM}, got shape {c.shape}")
    level = np.clip(np.rint(c * _HALF + _HALF), 0, _LEVELS - 1).astype(np.int64)
    return (level * _BASIS).sum(axis=-1).astype(np.uint16)


def quantize(values: np.ndarray) -> np.ndarray:
    """Quantize unbounded latents ``(..., 6)`` to indices ``(...,)`` uint16 like ``FSQ.forward`` does.

    Each dim is bounded with FSQ's ``tanh`` bound (``eps = 1e-3``, half-step offset for even levels),
    rounded to a level and packed with the official basis; the torch ``FSQ`` gives the same indices.
    Used to turn real per-pixel series into ESD-format indices without a trained encoder (benchmarks).
    """
    z = np.asarray(values, dtype=np.float64)
    if z.shape[-1:] != (CODE_DIM,):
        raise CodecError(f"values must have a last axis of {CODE_DIM}, got shape {z.shape}")
    half_l = (_LEVELS - 1) * (1 + 1e-3) / 2
    offset = np.where(_LEVELS % 2 == 0, 0.5, 0.0)
    shift = np.arctanh(offset / half_l)
    level = np.rint(np.tanh(z + shift) * half_l - offset) + _LEVELS // 2  # 0 .. L_i - 1
    return (level.astype(np.int64) * _BASIS).sum(axis=-1).astype(np.uint16)


def make_fsq() -> FSQ:
    """A ``vector_quantize_pytorch.FSQ`` over 6 dims with the ESD levels (no input/output projection).

    Input ``z: (batch, n, 6)`` unbounded (3-D); output ``(codes, indices)`` with codes on the grid above and
    indices that :func:`indices_to_codes` decodes to the same codes.
    """
    from vector_quantize_pytorch import FSQ

    return FSQ(levels=list(LEVELS), dim=CODE_DIM)


@lru_cache(maxsize=8)
def _shared_fsq(device: str) -> FSQ:
    """One FSQ instance per device (it has no parameters) whose buffers serve the torch conversions."""
    return make_fsq().eval().to(device)


def indices_to_codes_torch(indices: torch.Tensor) -> torch.Tensor:
    """Torch twin of :func:`indices_to_codes`: ``(...,)`` int -> ``(..., 6)`` float32, same values.

    A gather from ``FSQ.implicit_codebook`` on the indices' device.
    """
    return _shared_fsq(str(indices.device)).implicit_codebook[indices.long()].float()


def codes_to_indices_torch(codes: torch.Tensor) -> torch.Tensor:
    """Torch twin of :func:`codes_to_indices`: ``(..., 6)`` float -> ``(...,)`` int64.

    Codes are snapped to the nearest grid level (clipped to the valid range) and packed by
    ``FSQ.codes_to_indices``.
    """
    import torch

    if codes.shape[-1] != CODE_DIM:
        raise CodecError(f"codes must have a last axis of {CODE_DIM}, got shape {tuple(codes.shape)}")
    levels = torch.as_tensor(_LEVELS, device=codes.device)
    half = torch.as_tensor(_HALF, device=codes.device)
    level = torch.minimum(torch.clamp(torch.round(codes.float() * half + half), min=0), levels - 1)
    return _shared_fsq(str(codes.device)).codes_to_indices((level - half) / half).long()
