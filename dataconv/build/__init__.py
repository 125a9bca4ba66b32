"""Running a conversion: pipeline, shard building, executors, splits, interrupts."""
