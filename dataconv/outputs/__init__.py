"""What lands in OUT: LMDB and COCO writers, atomic folder, manifest, samples table, summary."""
