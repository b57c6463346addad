"""The seed of every case: fixed for the public cases, derived from the course secret for the hidden.

Hidden seeds are HMAC-SHA256(secret, 'unit/case_index'), so every course gets
different hidden inputs and the same secret always gives the same ones; the
public cases use the same construction with a published key (students have
their inputs in ``assignment/public_checks.npz``).
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["hidden_seed", "public_seed", "secret_fingerprint", "PUBLIC_KEY"]

PUBLIC_KEY = b"rnn-captioning-assignment: public cases"


def _secret_bytes(secret) -> bytes:
    if isinstance(secret, str):
        secret = secret.encode()
    if not isinstance(secret, (bytes, bytearray)) or not secret:
        raise ValueError("The course secret must be non-empty bytes (or a str).")
    return bytes(secret)


def hidden_seed(secret: bytes, unit: str, case_index: int) -> int:
    """Seed of one case: HMAC-SHA256(secret, 'unit/case_index'), first 8 bytes."""
    digest = hmac.new(_secret_bytes(secret), f"{unit}/{case_index}".encode(),
                      hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big")


def public_seed(unit: str, case_index: int) -> int:
    """Seed of a public case: the same construction with a published key."""
    return hidden_seed(PUBLIC_KEY, unit, case_index)


def secret_fingerprint(secret: bytes) -> str:
    """A short public identifier of a secret (to tell which secret built a file)."""
    return hmac.new(_secret_bytes(secret), b"fingerprint", hashlib.sha256).hexdigest()[:12]
