"""What each trainer does to an LMDB sample at load time, one module per trainer.

``base`` holds the Trainer protocol and the registry (``trainers()``), ``common`` the image
decoding and charset hand-over that several trainers share; every other module here is
one trainer simulation, found by ``trainers()``.
"""
from dataconv.validators.trainers.base import (CharsetUnreadable, Settings, Switch, Trainer, Verdict, register,
                                               trainers)
from dataconv.validators.trainers.clovaai import clovaai_safe
from dataconv.validators.trainers.common import yaml_quote

__all__ = ["CharsetUnreadable", "Settings", "Switch", "Trainer", "Verdict", "clovaai_safe", "register",
           "trainers", "yaml_quote"]
