"""Training deep matting models: configs, the loop, checkpoints, schedules, data glue, DDP.

``mattebox train CONFIG`` (:mod:`.command`) drives :class:`.engine.Trainer`; see
``configs/`` for the configs and :mod:`.engine` for what a run writes.
"""
