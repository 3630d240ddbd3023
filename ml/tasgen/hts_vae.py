"""HTS-VAE: hierarchical temporal-spectral VAE of one sample-year (TasGen stage 1; arXiv 2506.02574).

Input is a standardized year ``x: (batch, 12, D)`` (12 monthly steps, D bands or ESD code dims) and
the sample's class. Two embeddings are computed and fused:

- temporal: stacked Conv1D along the 12 months (each kernel a sliding window of ``kernel`` months,
  bands as channels);
- spectral: stacked Conv1D along the band axis (months as channels), i.e. the shape of each month's
  spectrum.

The fused features feed a two-level (ladder) VAE conditioned on a class embedding: a top latent
``z2 ~ N(0, I)``, a lower latent ``z1 ~ p(z1 | z2, class)``, and a decoder ``p(x | z1, z2, class)``
with a learned per-class, per-(month, dim) Laplace scale (robust to the cloud dips of single
months). The anomaly score of a sample-year under a
class is its negative ELBO computed at the posterior means (deterministic).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor, nn

from ml.array_state import json_array, json_value, part
from ml.errors import ModelError
from ml.tasgen.series import MONTHS


@dataclass
class HTSVAEConfig:
    """Architecture and training settings of :class:`HTSVAE`."""

    n_dims: int  # D: bands / code dims per month
    n_classes: int  # number of classes the model is conditioned on
    hidden: int = 32  # channels of the conv branches and width of the MLPs
    kernel: int = 3  # temporal sliding-window length in months
    z1: int = 4  # lower latent size
    z2: int = 2  # top latent size
    class_embedding: int = 8  # size of the learned class embedding
    epochs: int = 150  # passes over the training set
    max_steps: int = 600  # cap on optimizer steps (epochs are cut to fit; 0 = no cap)
    batch_size: int = 128  # sample-years per step
    lr: float = 3e-3  # Adam learning rate
    weight_decay: float = 1e-5  # Adam weight decay
    beta: float = 1.0  # weight of the KL terms in the loss and the score (beta-VAE; > 1 = tighter latents)
    learn_scale: bool = True  # learn the per-class (month, dim) Laplace scale; False: fixed at 1
    kl_warmup: float = 0.2  # fraction of steps over which the KL weight ramps from 0 to 1


def _gauss_kl(mu_q: Tensor, logvar_q: Tensor, mu_p: Tensor, logvar_p: Tensor) -> Tensor:
    """KL(N(mu_q, var_q) || N(mu_p, var_p)) summed over the last axis: (batch,)."""
    kl = 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p) ** 2) / logvar_p.exp() - 1.0)
    return kl.sum(-1)


class HTSVAE(nn.Module):
    """Class-conditional two-level VAE of a ``(12, D)`` year; see the module docstring."""

    def __init__(self, config: HTSVAEConfig) -> None:
        super().__init__()
        self.config = config
        d, h, k = config.n_dims, config.hidden, config.kernel
        ks = 3 if d >= 3 else 1  # odd kernel along the band axis keeps its length D
        self.temporal = nn.Sequential(
            nn.Conv1d(d, h, k, padding=k // 2),
            nn.GELU(),
            nn.Conv1d(h, h, k, padding=k // 2),
            nn.GELU(),
        )
        self.spectral = nn.Sequential(
            nn.Conv1d(MONTHS, h, ks, padding=ks // 2),
            nn.GELU(),
            nn.Conv1d(h, h // 2, ks, padding=ks // 2),
            nn.GELU(),
        )
        self.embed = nn.Embedding(config.n_classes, config.class_embedding)
        e = config.class_embedding
        self.fuse = nn.Sequential(nn.Linear(h * MONTHS + (h // 2) * d + e, 2 * h), nn.GELU())
        self.up = nn.Sequential(nn.Linear(2 * h, h), nn.GELU())  # bottom-up to the top level
        self.q_z2 = nn.Linear(h + e, 2 * config.z2)
        self.p_z1 = nn.Sequential(nn.Linear(config.z2 + e, h), nn.GELU(), nn.Linear(h, 2 * config.z1))
        self.q_z1 = nn.Sequential(nn.Linear(2 * h + config.z2, h), nn.GELU(), nn.Linear(h, 2 * config.z1))
        self.dec_in = nn.Sequential(nn.Linear(config.z1 + config.z2 + e, h * MONTHS), nn.GELU())
        self.dec = nn.Sequential(
            nn.Conv1d(h, h, k, padding=k // 2),
            nn.GELU(),
            nn.Conv1d(h, d, k, padding=k // 2),
        )
        scale = torch.zeros(config.n_classes, MONTHS, d)  # per class Laplace log scale
        if config.learn_scale:
            self.log_scale = nn.Parameter(scale)
        else:
            self.register_buffer("log_scale", scale)

    def encode(self, x: Tensor, c: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Bottom-up features: (d1 (batch, 2h), d2 (batch, h), class embedding (batch, e))."""
        emb = self.embed(c)
        t = self.temporal(x.transpose(1, 2))  # (batch, h, 12)
        s = self.spectral(x)  # (batch, h/2, D')
        d1 = self.fuse(torch.cat([t.flatten(1), s.flatten(1), emb], dim=1))
        return d1, self.up(d1), emb

    def forward(self, x: Tensor, c: Tensor, sample: bool = True) -> dict[str, Tensor]:
        """Terms of the ELBO for ``x (batch, 12, D)`` and classes ``c (batch,)`` long.

        Returns ``recon (batch, 12, D)`` mean reconstruction, ``nll (batch,)`` Laplace negative
        log-likelihood (nats), ``kl1``/``kl2 (batch,)`` and ``cell_nll (batch, 12, D)``. With
        ``sample=False`` the latents are the posterior means (deterministic scores).
        """
        d1, d2, emb = self.encode(x, c)
        mu2, lv2 = self.q_z2(torch.cat([d2, emb], 1)).chunk(2, dim=1)
        lv2 = lv2.clamp(-8, 8)
        z2 = mu2 + torch.randn_like(mu2) * (0.5 * lv2).exp() if sample else mu2
        pmu1, plv1 = self.p_z1(torch.cat([z2, emb], 1)).chunk(2, dim=1)
        qmu1, qlv1 = self.q_z1(torch.cat([d1, z2], 1)).chunk(2, dim=1)
        plv1, qlv1 = plv1.clamp(-8, 8), qlv1.clamp(-8, 8)
        z1 = qmu1 + torch.randn_like(qmu1) * (0.5 * qlv1).exp() if sample else qmu1
        hdec = self.dec_in(torch.cat([z1, z2, emb], 1)).view(x.shape[0], self.config.hidden, MONTHS)
        recon = self.dec(hdec).transpose(1, 2)  # (batch, 12, D)
        log_s = self.log_scale[c].clamp(-5, 3)
        cell = (x - recon).abs() / log_s.exp() + log_s + math.log(2.0)  # Laplace NLL
        kl2 = _gauss_kl(mu2, lv2, torch.zeros_like(mu2), torch.zeros_like(lv2))
        kl1 = _gauss_kl(qmu1, qlv1, pmu1, plv1)
        return {"recon": recon, "nll": cell.sum((1, 2)), "kl1": kl1, "kl2": kl2, "cell_nll": cell}

    @torch.no_grad()
    def score(self, x: np.ndarray, c: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """(batch,) float64 negative ELBO (nats) of ``x (batch, 12, D)`` standardized under classes ``c``."""
        self.eval()
        out = []
        for i in range(0, len(x), batch_size):
            xb = torch.as_tensor(x[i : i + batch_size], dtype=torch.float32)
            cb = torch.as_tensor(c[i : i + batch_size], dtype=torch.long)
            terms = self(xb, cb, sample=False)
            out.append((terms["nll"] + self.config.beta * (terms["kl1"] + terms["kl2"])).numpy())
        return np.concatenate(out).astype(np.float64) if out else np.zeros(0)

    def _decode(self, z1: Tensor, z2: Tensor, emb: Tensor) -> Tensor:
        """(batch, 12, D) decoder mean for latents ``z1``, ``z2`` and class embeddings ``emb``."""
        hdec = self.dec_in(torch.cat([z1, z2, emb], 1)).view(z1.shape[0], self.config.hidden, MONTHS)
        return self.dec(hdec).transpose(1, 2)

    @torch.no_grad()
    def prior_score(self, x: np.ndarray, c: np.ndarray, n_draws: int = 64, seed: int = 0) -> np.ndarray:
        """(batch,) float64 ``-log p(x | class)`` (nats) estimated with latents drawn from the class prior.

        ``-log mean_k p(x | z_k, class)`` over ``n_draws`` fixed (seeded) draws ``z2 ~ N(0, I)``,
        ``z1 ~ p(z1 | z2, class)``: how well the class's *generated* normal patterns explain ``x``,
        without letting the encoder adapt to ``x``. Deterministic for a given ``seed``.
        """
        self.eval()
        gen = torch.Generator().manual_seed(seed)
        e2 = torch.randn(n_draws, self.config.z2, generator=gen)
        e1 = torch.randn(n_draws, self.config.z1, generator=gen)
        out = []
        for i in range(0, len(x), 256):
            xb = torch.as_tensor(x[i : i + 256], dtype=torch.float32)
            cb = torch.as_tensor(c[i : i + 256], dtype=torch.long)
            b = len(xb)
            emb = self.embed(cb).repeat_interleave(n_draws, 0)  # (b*K, e)
            z2 = e2.repeat(b, 1)
            pmu1, plv1 = self.p_z1(torch.cat([z2, emb], 1)).chunk(2, dim=1)
            z1 = pmu1 + e1.repeat(b, 1) * (0.5 * plv1.clamp(-8, 8)).exp()
            recon = self._decode(z1, z2, emb).view(b, n_draws, MONTHS, -1)
            log_s = self.log_scale[cb].clamp(-5, 3)[:, None]
            ll = -((xb[:, None] - recon).abs() / log_s.exp() + log_s + math.log(2.0)).sum((2, 3))  # (b, K)
            out.append(-(torch.logsumexp(ll, 1) - math.log(n_draws)).numpy())
        return np.concatenate(out).astype(np.float64) if out else np.zeros(0)

    @torch.no_grad()
    def latent(self, x: np.ndarray, c: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """(batch, z1 + z2) float32 posterior means ``[mu(z1), mu(z2)]`` of ``x (batch, 12, D)`` under ``c``."""
        self.eval()
        out = []
        for i in range(0, len(x), batch_size):
            xb = torch.as_tensor(x[i : i + batch_size], dtype=torch.float32)
            cb = torch.as_tensor(c[i : i + batch_size], dtype=torch.long)
            d1, d2, emb = self.encode(xb, cb)
            mu2 = self.q_z2(torch.cat([d2, emb], 1)).chunk(2, dim=1)[0]
            mu1 = self.q_z1(torch.cat([d1, mu2], 1)).chunk(2, dim=1)[0]
            out.append(torch.cat([mu1, mu2], 1).numpy())
        return np.concatenate(out) if out else np.zeros((0, self.config.z1 + self.config.z2), np.float32)

    @torch.no_grad()
    def reconstruct(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        """(batch, 12, D) posterior-mean reconstruction of ``x`` under classes ``c`` (standardized units)."""
        self.eval()
        xb = torch.as_tensor(x, dtype=torch.float32)
        cb = torch.as_tensor(c, dtype=torch.long)
        return self(xb, cb, sample=False)["recon"].numpy()

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays: ``config`` (JSON) and ``state.<name>`` (every parameter and buffer)."""
        out = {f"state.{k}": v.detach().cpu().numpy().copy() for k, v in self.state_dict().items()}
        return {"config": json_array(asdict(self.config)), **out}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> HTSVAE:
        """The model :meth:`to_arrays` stored, in eval mode (building it leaves torch's RNG as it was)."""
        try:
            config = HTSVAEConfig(**json_value(arrays["config"]))
            with torch.random.fork_rng(devices=[]):  # the layers' random init must not move the global RNG
                model = cls(config)
            state = {k: torch.from_numpy(np.array(v)) for k, v in part(arrays, "state.").items()}
            model.load_state_dict(state)
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ModelError(f"HTS-VAE state cannot be loaded: {exc}") from exc
        return model.eval()


def negative_elbo(model: HTSVAE, x: Tensor, c: Tensor, kl_weight: float = 1.0) -> Tensor:
    """Mean over the batch of ``nll + kl_weight * (kl1 + kl2)`` with sampled latents (training loss)."""
    t = model(x, c, sample=True)
    return (t["nll"] + kl_weight * (t["kl1"] + t["kl2"])).mean()


def train_hts_vae(
    x: np.ndarray, c: np.ndarray, config: HTSVAEConfig, seed: int = 0
) -> tuple[HTSVAE, list[float]]:
    """Fit an :class:`HTSVAE` on standardized years ``x (N, 12, D)`` with classes ``c (N,)`` int.

    Returns the model (in eval mode) and the mean training negative ELBO (nats) of each epoch
    (``epochs``, fewer when ``max_steps`` would be exceeded).
    Deterministic for a given ``seed`` on one machine and thread count.
    """
    if x.ndim != 3 or x.shape[1] != MONTHS or x.shape[2] != config.n_dims:
        raise ModelError(f"x must be (N, 12, {config.n_dims}), got {x.shape}")
    if len(x) < 2:
        raise ModelError(f"need at least 2 training sample-years, got {len(x)}")
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = HTSVAE(config)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    xt = torch.as_tensor(x, dtype=torch.float32)
    ct = torch.as_tensor(c, dtype=torch.long)
    n = len(xt)
    steps_per_epoch = max(1, math.ceil(n / config.batch_size))
    epochs = config.epochs
    if config.max_steps > 0:
        epochs = max(1, min(epochs, config.max_steps // steps_per_epoch))
    total = epochs * steps_per_epoch
    warm = max(1, int(config.kl_warmup * total))
    history: list[float] = []
    step = 0
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        acc = 0.0
        for b in range(steps_per_epoch):
            idx = perm[b * config.batch_size : (b + 1) * config.batch_size]
            loss = negative_elbo(model, xt[idx], ct[idx], kl_weight=config.beta * min(1.0, step / warm))
            opt.zero_grad()
            loss.backward()
            opt.step()
            acc += float(loss.detach()) * len(idx)
            step += 1
        history.append(acc / n)
    model.eval()
    return model, history


def class_mean_elbo(model: HTSVAE, x: np.ndarray, c: np.ndarray) -> float:
    """Mean deterministic negative ELBO (nats) of ``x`` under ``c``; a convenience for tests and logs."""
    return float(np.mean(model.score(x, c)))


__all__ = ["HTSVAE", "HTSVAEConfig", "class_mean_elbo", "negative_elbo", "train_hts_vae"]
