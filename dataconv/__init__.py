"""dataconv: OCR annotation datasets to validated, split, sharded LMDB datasets."""

__version__ = "0.1.0"
