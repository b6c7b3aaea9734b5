"""Loaded only by the DDP failure test (on PYTHONPATH): makes rank 1 fail in its first validation."""
import os

if os.environ.get("RANK") == "1":
    import gtzan_gpu.training.engine as engine
    from gtzan_gpu.errors import GtzanError

    def failing_score(*args, **kwargs):
        raise GtzanError("rank 1 failed on purpose")

    engine.score = failing_score
