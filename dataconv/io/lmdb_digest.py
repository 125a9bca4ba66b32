"""A shard's digest: sha256 over its logical content (every key and value, in key order).

The writer computes it while writing (``outputs.lmdb_writer.ContentDigest``) and records
it in manifest.json; a reader recomputes it here to verify a shard it did not write (a
dataset fetched from object storage: ``remote_dataset``). The data.mdb file itself holds
free pages and uninitialised bytes, so hashing the file would not be reproducible; this
digest is."""
from __future__ import annotations

import hashlib

from dataconv.io import lmdb_tree


def entry(key: bytes, value: bytes) -> bytes:
    """One key and its value as the digest hashes them (each length-prefixed)."""
    return len(key).to_bytes(8, "big") + key + len(value).to_bytes(8, "big") + value


def content_digest(path: str) -> str:
    """The digest of the LMDB at ``path``, read back through the checked open."""
    h = hashlib.sha256()
    with lmdb_tree.reading(path) as txn:
        for key, value in txn.cursor():
            h.update(entry(key, value))
    return h.hexdigest()
