"""Where work runs: in this process, in a local process pool, or on a Dask cluster.

``base`` holds the Executor protocol, ``bounded_ordered`` (the ordered, bounded window every
executor keeps) and the registry; every other module here is one executor, found by name
(``open_executor``). The next executor is one new module.
"""
from dataconv.build.executors.base import (Executor, ExecutorSettings, bounded_ordered, chosen_name,
                                           default_workers, executors, open_executor, register)

__all__ = ["Executor", "ExecutorSettings", "bounded_ordered", "chosen_name", "default_workers", "executors",
           "open_executor", "register"]
