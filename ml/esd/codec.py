"""FSQ codec of ESD: one ``uint16`` index per monthly step <-> a 6-dim code in [-1, 1].

Finite Scalar Quantization (Mentzer et al., 2023, arXiv 2309.15505) with levels ``[8, 8, 8, 5, 5, 5]``
(64,000 codes), as used by ESDNet (Chen et al., 2026, arXiv 2601.11183). The quantizer itself is
``vector_quantize_pytorch.FSQ``; this module adds the vectorised numpy path used by lookups and
checks that both agree with the official decoding::

    level_i = (idx // basis_i) % L_i,  basis = cumprod([1, 8, 8, 8, 5, 5])
    code_i  = (level_i - L_i // 2) / (L_i // 2)
"""

from __future__ import annotations

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


def indices_to_codes(indices: np.ndarray) -> np.ndarray:
    """Decode FSQ indices ``(...,)`` (any integer dtype, values < 64,000) to codes ``(..., 6)`` float32.

    Code values lie on the FSQ grid: multiples of 1/4 in [-1, 0.75] for the three 8-level dims and
    multiples of 1/2 in [-1, 1] for the three 5-level dims. Index 0 decodes to all -1.
    """
    idx = np.asarray(indices)
    if not np.issubdtype(idx.dtype, np.integer):
        raise CodecError(f"FSQ indices must be integers, got dtype {idx.dtype}")
    idx = idx.astype(np.int64, copy=False)
    if idx.size and (idx.min() < 0 or idx.max() >= CODEBOOK_SIZE):
        raise CodecError(f"FSQ indices must lie in [0, {CODEBOOK_SIZE}), got [{idx.min()}, {idx.max()}]")
    level = (idx[..., None] // _BASIS) % _LEVELS  # (..., 6)
    return ((level - _HALF) / _HALF).astype(np.float32)


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


def make_fsq() -> FSQ:
    """A ``vector_quantize_pytorch.FSQ`` over 6 dims with the ESD levels (no input/output projection).

    Input ``z: (batch, n, 6)`` unbounded (3-D); output ``(codes, indices)`` with codes on the grid above and
    indices that :func:`indices_to_codes` decodes to the same codes.
    """
    from vector_quantize_pytorch import FSQ

    return FSQ(levels=list(LEVELS), dim=CODE_DIM)


def indices_to_codes_torch(indices: torch.Tensor) -> torch.Tensor:
    """Torch twin of :func:`indices_to_codes`: ``(...,)`` int -> ``(..., 6)`` float32, same values."""
    import torch

    levels = torch.as_tensor(_LEVELS, device=indices.device)
    basis = torch.as_tensor(_BASIS, device=indices.device)
    half = torch.as_tensor(_HALF, device=indices.device)
    level = (indices.long()[..., None] // basis) % levels
    return (level.float() - half) / half


def codes_to_indices_torch(codes: torch.Tensor) -> torch.Tensor:
    """Torch twin of :func:`codes_to_indices`: ``(..., 6)`` float -> ``(...,)`` int64."""
    import torch

    levels = torch.as_tensor(_LEVELS, device=codes.device)
    basis = torch.as_tensor(_BASIS, device=codes.device)
    half = torch.as_tensor(_HALF, device=codes.device)
    level = torch.clamp(torch.round(codes * half + half), torch.zeros_like(levels), levels - 1).long()
    return (level * basis).sum(dim=-1)
