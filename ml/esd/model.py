"""ESDNet: a per-pixel temporal autoencoder with an FSQ bottleneck (Chen et al., 2026, arXiv 2601.11183).

Input: one pixel-year as 12 monthly steps of ``B`` bands plus the month validity flag. The encoder
is a stack of residual Conv1D blocks along the 12 steps that ends in 6 dims per step; FSQ
(Mentzer et al., 2023) with levels [8, 8, 8, 5, 5, 5] quantizes each step to one of 64,000 codes
(one ``uint16`` index). A symmetric decoder maps the 12 x 6 codes back to reflectance. Two training
heads read only the quantized codes: a land-cover classifier and a phenology regressor (index curves
and seasonal statistics); they shape the codes into better features and are not needed to decode.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ml.errors import ModelError
from ml.esd.codec import CODE_DIM, STEPS, codes_to_indices_torch, indices_to_codes_torch, make_fsq


@dataclass
class ESDNetConfig:
    """Architecture and data contract of one ESDNet checkpoint."""

    bands: tuple[str, ...] = ("blue", "red", "nir", "mir")  # input/output band names, in order
    offset: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)  # per-band value subtracted before the encoder
    scale: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0)  # per-band divisor after the offset
    clip: tuple[float, float] = (0.0, 1.0)  # valid physical range of every band (outputs are clipped)
    hidden: int = 48  # channels of the Conv1D blocks
    blocks: int = 2  # residual blocks in the encoder and in the decoder
    kernel: int = 3  # temporal kernel size (odd)
    classes: tuple[str, ...] = ()  # land-cover classes of the training head (empty: no head)
    pheno_dim: int = 0  # per-step phenology targets (index curves); 0: no phenology head
    pheno_stats: int = 0  # per-pixel seasonal statistics predicted by the phenology head
    extra: dict[str, Any] = field(default_factory=dict)  # free metadata (e.g. training data, index names)

    def __post_init__(self) -> None:
        self.bands = tuple(self.bands)
        self.offset = tuple(float(v) for v in self.offset)
        self.scale = tuple(float(v) for v in self.scale)
        self.clip = (float(self.clip[0]), float(self.clip[1]))
        self.classes = tuple(self.classes)
        if not self.bands or len(self.offset) != len(self.bands) or len(self.scale) != len(self.bands):
            raise ModelError(f"bands/offset/scale must be non-empty and equal length, got {self.bands}")
        if self.kernel % 2 != 1:
            raise ModelError(f"kernel must be odd, got {self.kernel}")


class ResBlock1d(nn.Module):
    """Two Conv1D (kernel ``k``, same length) with GroupNorm and GELU around a skip connection."""

    def __init__(self, channels: int, kernel: int) -> None:
        super().__init__()
        pad = kernel // 2
        self.body = nn.Sequential(
            nn.GroupNorm(1, channels),
            nn.GELU(),
            nn.Conv1d(channels, channels, kernel, padding=pad, padding_mode="replicate"),
            nn.GroupNorm(1, channels),
            nn.GELU(),
            nn.Conv1d(channels, channels, kernel, padding=pad, padding_mode="replicate"),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, channels, 12) -> same shape."""
        return x + self.body(x)


@dataclass
class ESDNetOutput:
    """What one forward pass gives; all tensors share the batch axis."""

    recon: torch.Tensor  # (batch, 12, B) reconstruction in scaled units (see ESDNet.scale_in)
    codes: torch.Tensor  # (batch, 12, 6) quantized codes on the FSQ grid, in [-1, 1]
    indices: torch.Tensor  # (batch, 12) int64 FSQ indices (< 64,000)
    logits: torch.Tensor | None  # (batch, classes) land-cover logits, None without a head
    pheno: torch.Tensor | None  # (batch, 12, pheno_dim) predicted index curves, None without a head
    pheno_stats: torch.Tensor | None  # (batch, pheno_stats) predicted seasonal statistics


class ESDNet(nn.Module):
    """Encoder -> FSQ (12 x 6) -> decoder, plus optional land-cover and phenology heads on the codes."""

    offset: torch.Tensor  # (B,) non-persistent buffer: physical value of network unit 0
    scale: torch.Tensor  # (B,) non-persistent buffer: physical units per network unit

    def __init__(self, config: ESDNetConfig) -> None:
        super().__init__()
        self.config = config
        b, c, k = len(config.bands), config.hidden, config.kernel
        self.encoder = nn.Sequential(
            nn.Conv1d(b + 1, c, k, padding=k // 2, padding_mode="replicate"),
            *[ResBlock1d(c, k) for _ in range(config.blocks)],
            nn.GroupNorm(1, c),
            nn.GELU(),
            nn.Conv1d(c, CODE_DIM, 1),
        )
        self.fsq = make_fsq()
        self.decoder = nn.Sequential(
            nn.Conv1d(CODE_DIM, c, k, padding=k // 2, padding_mode="replicate"),
            *[ResBlock1d(c, k) for _ in range(config.blocks)],
            nn.GroupNorm(1, c),
            nn.GELU(),
            nn.Conv1d(c, b, 1),
        )
        flat = STEPS * CODE_DIM
        self.classifier = (
            nn.Sequential(nn.Dropout(0.1), nn.Linear(flat, 64), nn.GELU(), nn.Linear(64, len(config.classes)))
            if config.classes
            else None
        )
        self.pheno_head = (
            nn.Conv1d(CODE_DIM, config.pheno_dim, k, padding=k // 2, padding_mode="replicate")
            if config.pheno_dim
            else None
        )
        self.stats_head = (
            nn.Sequential(nn.Linear(flat, 64), nn.GELU(), nn.Linear(64, config.pheno_stats))
            if config.pheno_stats
            else None
        )
        self.register_buffer("offset", torch.tensor(config.offset, dtype=torch.float32), persistent=False)
        self.register_buffer("scale", torch.tensor(config.scale, dtype=torch.float32), persistent=False)

    # scaling between physical values (reflectance / index) and the network's units
    def scale_in(self, values: torch.Tensor) -> torch.Tensor:
        """(..., B) physical values -> network units (clipped to the band range first)."""
        lo, hi = self.config.clip
        return (values.clamp(lo, hi) - self.offset) / self.scale

    def scale_out(self, scaled: torch.Tensor) -> torch.Tensor:
        """(..., B) network units -> physical values clipped to the band range."""
        lo, hi = self.config.clip
        return (scaled * self.scale + self.offset).clamp(lo, hi)

    def _check(self, x: torch.Tensor) -> None:
        if x.ndim != 3 or x.shape[1] != STEPS or x.shape[2] != len(self.config.bands):
            raise ModelError(
                f"input must be (batch, {STEPS}, {len(self.config.bands)}) for bands {self.config.bands}, "
                f"got {tuple(x.shape)}"
            )

    def encode(
        self, values: torch.Tensor, valid: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """values (batch, 12, B) physical, valid (batch, 12) bool -> (codes (batch, 12, 6), indices (batch, 12))."""
        self._check(values)
        if valid is None:
            valid = torch.ones(values.shape[:2], dtype=torch.bool, device=values.device)
        x = torch.cat([self.scale_in(values), valid.float()[..., None]], dim=-1)  # (batch, 12, B+1)
        z = self.encoder(x.transpose(1, 2)).transpose(1, 2)  # (batch, 12, 6) unbounded
        codes, _ = self.fsq(z)
        return codes, codes_to_indices_torch(codes)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (batch, 12, 6) -> reconstruction (batch, 12, B) in network units."""
        return self.decoder(codes.transpose(1, 2)).transpose(1, 2)

    def decode_indices(self, indices: torch.Tensor) -> torch.Tensor:
        """indices (..., 12) int -> physical values (..., 12, B), clipped to the band range."""
        codes = indices_to_codes_torch(indices)
        lead = codes.shape[:-2]
        out = self.decode(codes.reshape(-1, STEPS, CODE_DIM))
        return self.scale_out(out).reshape(*lead, STEPS, len(self.config.bands))

    def forward(self, values: torch.Tensor, valid: torch.Tensor | None = None) -> ESDNetOutput:
        """values (batch, 12, B) physical, valid (batch, 12) -> :class:`ESDNetOutput`."""
        codes, indices = self.encode(values, valid)
        flat = codes.reshape(codes.shape[0], -1)  # (batch, 72)
        return ESDNetOutput(
            recon=self.decode(codes),
            codes=codes,
            indices=indices,
            logits=self.classifier(flat) if self.classifier is not None else None,
            pheno=self.pheno_head(codes.transpose(1, 2)).transpose(1, 2)
            if self.pheno_head is not None
            else None,
            pheno_stats=self.stats_head(flat) if self.stats_head is not None else None,
        )


def model_checkpoint(model: ESDNet, step: int, metrics: dict[str, Any]) -> dict[str, Any]:
    """A plain-dict checkpoint (``model``, ``config``, ``step``, ``metrics``) that rebuilds the model."""

    def plain(obj: Any) -> Any:  # numpy -> builtins
        return json.loads(json.dumps(obj, default=_to_builtin))

    return {
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "config": plain(asdict(model.config)),
        "step": int(step),
        "metrics": plain(metrics),
    }


def _to_builtin(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot store {type(obj).__name__} in a checkpoint")


def model_from_checkpoint(checkpoint: dict[str, Any]) -> ESDNet:
    """Rebuild an :class:`ESDNet` (eval mode, CPU) from :func:`model_checkpoint`'s dict."""
    missing = [k for k in ("model", "config") if k not in checkpoint]
    if missing:
        raise ModelError(f"checkpoint lacks {missing}")
    model = ESDNet(ESDNetConfig(**checkpoint["config"]))
    model.load_state_dict(checkpoint["model"])
    return model.eval()


def load_model(source: str | Path | tuple[str, ...] | list[str]) -> tuple[ESDNet, dict[str, Any]]:
    """(model in eval mode on CPU, meta) from a checkpoint path or a band set.

    A band set (e.g. a sample file's bands, possibly with extra bands) picks the shipped checkpoint
    of :mod:`ml.esd.weights` whose bands it contains. ``meta`` holds ``path``, ``bands``, ``clip``,
    ``classes``, ``step``, ``metrics`` and the config's ``extra`` dict.
    """
    if isinstance(source, (tuple, list)):
        from ml.esd.weights import weights_for_bands

        path = weights_for_bands(tuple(source))
    else:
        path = Path(source)
    if not path.is_file():
        raise ModelError(f"{path}: checkpoint not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError) as exc:
        raise ModelError(f"{path}: not a readable ESDNet checkpoint ({exc})") from exc
    model = model_from_checkpoint(ckpt)
    cfg = model.config
    meta = {
        "path": str(path),
        "bands": cfg.bands,
        "clip": cfg.clip,
        "classes": cfg.classes,
        "step": ckpt.get("step"),
        "metrics": ckpt.get("metrics", {}),
        **cfg.extra,
    }
    return model, meta


def _batches(n: int, size: int = 8192) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


@torch.no_grad()
def encode_series(model: ESDNet, monthly: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Monthly composites ``(N, 12, B)`` physical values (+ ``valid (N, 12)``) -> FSQ indices ``(N, 12)`` uint16.

    Rows without any valid month get all-zero indices (the ESD nodata value).
    """
    x = np.asarray(monthly, dtype=np.float32)
    v = np.ones(x.shape[:2], dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    out = np.zeros(x.shape[:2], dtype=np.uint16)
    for s in _batches(len(x)):
        _, idx = model.encode(torch.from_numpy(x[s]), torch.from_numpy(v[s]))
        out[s] = idx.numpy().astype(np.uint16)
    out[~v.any(axis=1)] = 0
    return out


@torch.no_grad()
def decode_indices(model: ESDNet, indices: np.ndarray) -> np.ndarray:
    """FSQ indices ``(..., 12)`` -> reconstructed values ``(..., 12, B)`` float32 in physical units."""
    idx = np.asarray(indices)
    if idx.shape[-1:] != (STEPS,):
        raise ModelError(f"indices must end with {STEPS} steps, got shape {idx.shape}")
    flat = idx.reshape(-1, STEPS).astype(np.int64)
    out = np.concatenate(
        [model.decode_indices(torch.from_numpy(flat[s])).numpy() for s in _batches(len(flat))]
        or [np.zeros((0, STEPS, len(model.config.bands)), np.float32)]
    )
    return out.reshape(*idx.shape, len(model.config.bands))


@torch.no_grad()
def decode_codes(model: ESDNet, codes: np.ndarray) -> np.ndarray:
    """ESD codes ``(..., 12, 6)`` (FSQ grid values or points between them) -> ``(..., 12, B)`` float32
    physical values: what the decoder reads into a code, used to tell attributions in bands."""
    c = np.asarray(codes, dtype=np.float32)
    if c.shape[-2:] != (STEPS, CODE_DIM):
        raise ModelError(f"codes must end with ({STEPS}, {CODE_DIM}), got shape {c.shape}")
    flat = c.reshape(-1, STEPS, CODE_DIM)
    out = np.concatenate(
        [model.scale_out(model.decode(torch.from_numpy(flat[s]))).numpy() for s in _batches(len(flat))]
        or [np.zeros((0, STEPS, len(model.config.bands)), np.float32)]
    )
    return out.reshape(*c.shape[:-1], len(model.config.bands))


def reconstruct(model: ESDNet, monthly: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """decode(encode(monthly)) ``(N, 12, B)``: what an ESD tile gives back for these composites."""
    return decode_indices(model, encode_series(model, monthly, valid))
