"""Safe reading of every input: paths, text, JSON, images, crops, LMDB."""
