"""Embedded Seamless Data (ESD): FSQ codec, tile format, store lookups, ESDNet (Chen et al., 2026)."""
