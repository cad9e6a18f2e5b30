"""vtrax replay: everything Reverb (tables, server, actor-side adder, learner-side dataset).

Item layout, the adder's timeline and the dataset's batch shapes are documented
in `replay/tables.py`, `replay/adder.py` and `replay/dataset.py`.

Names that need Reverb (and so TensorFlow, a few seconds to import) load on
first use; the step specs, `TableConfig` and `ReplayServerProcess` import numpy
only, so a driver or a synthetic-batch benchmark can use them on machines
without Reverb.
"""

from __future__ import annotations

from vtrax.replay.lazy_exports import lazy_exports
from vtrax.replay.nstep import n_step_transition, transition_step_spec
from vtrax.replay.priority_writer import PriorityWriter
from vtrax.replay.process import ReplayServerError, ReplayServerProcess
from vtrax.replay.sequences import SequenceBuffer, split_slabs, to_device_batch
from vtrax.replay.specs import CORE_STATE_PREFIX, FieldSpec, field_spec, impala_step_spec, step_nbytes
from vtrax.replay.table_config import (DEFAULT_CHECKPOINT_PERIOD_S, PRIORITIZED, QUEUE, TABLE_KINDS, UNIFORM,
                                       TableConfig)

# name -> submodule that defines it (imports reverb/tensorflow).
_LAZY = {
    "make_tables": "vtrax.replay.tables",
    "build_table": "vtrax.replay.tables",
    "item_signature": "vtrax.replay.tables",
    "start_server": "vtrax.replay.server",
    "ReplayServer": "vtrax.replay.server",
    "serve": "vtrax.replay.server_main",
    "SequenceAdder": "vtrax.replay.adder",
    "NStepAdder": "vtrax.replay.nstep_adder",
    "ReplayConnectionError": "vtrax.replay.adder",
    "AdderClosedError": "vtrax.replay.adder",
    "ReplayDataset": "vtrax.replay.dataset",
    "ReplayDatasetError": "vtrax.replay.dataset",
    "INFO_FIELDS": "vtrax.replay.dataset",
    "info": "vtrax.replay.server_info",
}

__all__ = [
    "CORE_STATE_PREFIX", "DEFAULT_CHECKPOINT_PERIOD_S", "FieldSpec", "PRIORITIZED", "QUEUE", "TABLE_KINDS",
    "UNIFORM", "PriorityWriter", "ReplayServerError", "ReplayServerProcess", "SequenceBuffer", "TableConfig", "field_spec",
    "impala_step_spec", "n_step_transition", "split_slabs", "step_nbytes", "to_device_batch", "transition_step_spec", *_LAZY,
]

__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)
