"""One training path for every method (see :mod:`reidlib.engine.trainer`).

* :func:`make_config` assembles a :class:`TrainConfig` from a profile, the
  method's file in ``reidlib/configs`` and overrides; :func:`train` runs it.
* :func:`run_seeds` trains one config over several seeds and summarises them.
* ``python -m reidlib.train`` is the command line of the same.
* :mod:`reidlib.engine.records` keeps a finished cpu / gpu run's results and the scores
  computed from it in the repository, so a study outlives its run folders.
"""

from .checkpoint import CheckpointMismatch
from .config import ConfigError, TrainConfig
from .profiles import PROFILE_DEFAULTS, make_config, method_spec, paper_settings
from .seeds import run_seeds, summarize_seeds
from .trainer import Trainer, default_output_dir, train

__all__ = [
           "PROFILE_DEFAULTS",
           "CheckpointMismatch",
           "ConfigError",
           "TrainConfig",
           "Trainer",
           "default_output_dir",
           "make_config",
           "method_spec",
           "paper_settings",
           "run_seeds",
           "summarize_seeds",
           "train",
]
