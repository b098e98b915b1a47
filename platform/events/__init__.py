"""Event store core: canonical encoding, hash chain and offline verification (no Django here)."""
