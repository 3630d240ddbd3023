"""FSQ codec: all 64,000 indices against the official formula and vector_quantize_pytorch.FSQ."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ml.errors import CodecError
from ml.esd import codec
from ml.esd.codec import (
    CODEBOOK,
    CODEBOOK_SIZE,
    LEVELS,
    codes_to_indices,
    codes_to_indices_torch,
    decode_steps,
    indices_to_codes,
    indices_to_codes_torch,
    make_fsq,
    quantize,
)

ALL = np.arange(CODEBOOK_SIZE)


def official(idx: int) -> list[float]:
    """The decoding of DESIGN.md written out per index, with plain Python ints."""
    basis = [1, 8, 64, 512, 2560, 12800]
    out = []
    for L, b in zip(LEVELS, basis, strict=True):
        level = (idx // b) % L
        out.append((level - L // 2) / (L // 2))
    return out


def test_constants() -> None:
    assert CODEBOOK_SIZE == 64_000
    assert CODEBOOK.shape == (64_000, 6) and CODEBOOK.dtype == np.float32
    assert not CODEBOOK.flags.writeable


def test_all_indices_match_official_formula() -> None:
    expected = np.array([official(i) for i in range(CODEBOOK_SIZE)], dtype=np.float64)
    np.testing.assert_array_equal(indices_to_codes(ALL.astype(np.uint16)).astype(np.float64), expected)
    assert len(np.unique(expected, axis=0)) == CODEBOOK_SIZE  # a bijection


def test_all_indices_round_trip_numpy_and_torch() -> None:
    codes = indices_to_codes(ALL)
    np.testing.assert_array_equal(codes_to_indices(codes), ALL.astype(np.uint16))
    t = indices_to_codes_torch(torch.from_numpy(ALL))
    np.testing.assert_array_equal(t.numpy(), codes)
    np.testing.assert_array_equal(codes_to_indices_torch(t).numpy(), ALL)


def test_fsq_library_agrees_on_all_indices() -> None:
    fsq = make_fsq()
    np.testing.assert_array_equal(fsq.implicit_codebook.numpy(), CODEBOOK)
    # the library packs every code back to its own index
    codes = torch.from_numpy(CODEBOOK.astype(np.float64))
    np.testing.assert_array_equal(fsq.codes_to_indices(codes).numpy(), ALL)


def test_quantize_matches_fsq_forward() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(scale=2.0, size=(1, 5000, 6)).astype(np.float32)
    _, idx = make_fsq()(torch.from_numpy(z))
    np.testing.assert_array_equal(quantize(z[0]), idx[0].numpy().astype(np.uint16))


def test_noisy_codes_snap_to_nearest() -> None:
    codes = indices_to_codes(np.array([0, 1, 12345, 63999]))
    noisy = codes + np.float32(0.05)
    np.testing.assert_array_equal(codes_to_indices(noisy), [0, 1, 12345, 63999])
    np.testing.assert_array_equal(
        codes_to_indices_torch(torch.from_numpy(noisy)).numpy(), [0, 1, 12345, 63999]
    )
    assert codes_to_indices(np.full((1, 6), 5.0))[0] == 63999  # clipped to the top level


def test_decode_steps_layout() -> None:
    every = np.arange(CODEBOOK_SIZE, dtype=np.uint16).reshape(1, 64, 1000)
    np.testing.assert_array_equal(decode_steps(every)[0].transpose(1, 2, 0).reshape(-1, 6), CODEBOOK)
    rng = np.random.default_rng(1)
    idx = rng.integers(0, CODEBOOK_SIZE, size=(2, 12, 3, 4)).astype(np.uint16)
    out = decode_steps(idx)
    assert out.shape == (2, 12, 6, 3, 4)
    np.testing.assert_array_equal(out, np.moveaxis(indices_to_codes(idx), -1, 2))


@pytest.mark.parametrize("bad", [np.array([64_000]), np.array([-1]), np.array([0.5])])
def test_bad_indices_rejected(bad: np.ndarray) -> None:
    with pytest.raises(CodecError):
        indices_to_codes(bad)


def test_bad_code_shape_rejected() -> None:
    with pytest.raises(CodecError, match="last axis of 6"):
        codes_to_indices(np.zeros((3, 5)))
    with pytest.raises(CodecError):
        codec.decode_steps(np.zeros((3, 4), dtype=np.uint16))
