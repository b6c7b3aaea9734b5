"""Export a trained run as one raw-audio model: waveform ``(B, T)`` float32 at the corpus rate -> logits
``(B, genres)``, the front end included, the batch dimension dynamic.

``onnx``: ``torch.onnx.export(dynamo=True)`` (needs the ``export`` extra: onnx, onnxscript, onnxruntime); the
genres, sample rate and segment length go into the model's metadata, so ``gtzan-gpu predict MODEL.onnx`` needs
nothing else. ``torchscript``: ``torch.jit.trace`` with the same facts in ``gtzan_gpu.json`` inside the archive.
Every export is checked against PyTorch on a fresh batch of another size (logits within ``PARITY_ATOL``, same
argmax) before it is written, atomically.
"""
from __future__ import annotations

import io
import os
import json
import tempfile
import warnings
from pathlib import Path

import torch

from gtzan_gpu.atomic import atomic_write_bytes
from gtzan_gpu.errors import GtzanError, optional_module
from gtzan_gpu.training.artifacts import load_trained_model

EXPORT_FORMATS = ("onnx", "torchscript")
PARITY_ATOL = 1e-3          # logits; met: <= 3e-6 for every model and front end on CPU
METADATA_KEY = "gtzan_gpu"


def _facts(checkpoint: dict, config) -> dict:
    return {"format": "gtzan-gpu/exported-model", "genres": checkpoint["genres"], "sample_rate": config.sample_rate,
            "segment_seconds": config.segment_seconds, "model": config.model.name,
            "frontend": config.features.frontend, "stft_backend": config.features.stft_backend,
            "checkpoint_epoch": checkpoint["epoch"]}


def _onnx_bytes(model: torch.nn.Module, example: torch.Tensor, facts: dict) -> bytes:
    onnx = optional_module("onnx", "ONNX export needs the export extra", "export")
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = Path(folder) / "model.onnx"
        torch.onnx.export(model, (example,), str(path), dynamo=True, verbose=False, input_names=["waveform"],
                          output_names=["logits"],
                          dynamic_shapes={"waveform": {0: torch.export.Dim("batch", min=1, max=4096)}})
        proto = onnx.load(str(path))
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(facts)
    return proto.SerializeToString()


def _torchscript_bytes(model: torch.nn.Module, example: torch.Tensor, facts: dict) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, example)
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer, _extra_files={f"{METADATA_KEY}.json": json.dumps(facts)})
    return buffer.getvalue()


def run_exported(data: bytes, fmt: str, waveforms: torch.Tensor) -> torch.Tensor:
    """Logits of an exported model (bytes) on ``waveforms`` ``(B, T)``, with onnxruntime or TorchScript."""
    if fmt == "onnx":
        session = onnx_session(data)
        return torch.from_numpy(session.run(None, {"waveform": waveforms.numpy()})[0])
    return torch.jit.load(io.BytesIO(data))(waveforms).detach()


def onnx_session(data: bytes | str):
    onnxruntime = optional_module("onnxruntime", "running an ONNX model needs the export extra", "export")
    try:
        return onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime's own exception types: InvalidProtobuf, Fail, ...
        what = data if isinstance(data, str) else "the exported model"
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise GtzanError(f"{what} is not a loadable ONNX model ({reason[:160]})") from None


def check_export_target(out: str | Path) -> None:
    """Refuse, before the slow export, an ``--out`` that is a folder or cannot be written (one line)."""
    out = Path(out)
    if out.is_dir():
        raise GtzanError(f"--out {out} is a folder; give the model's file name (e.g. {out / 'model.onnx'})")
    parent = out.parent
    if not parent.is_dir():
        raise GtzanError(f"--out {out}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise GtzanError(f"--out {out}: folder {parent} is not writable")


def export_run(run_dir: str | Path, fmt: str, out: str | Path) -> dict:
    """Export RUN_DIR's best model to ``out`` after checking parity; returns the parity figures."""
    if fmt not in EXPORT_FORMATS:
        raise GtzanError(f"unknown --format {fmt!r} (choose from {', '.join(EXPORT_FORMATS)})")
    check_export_target(out)
    model, checkpoint, config, _ = load_trained_model(run_dir, "cpu")
    facts = _facts(checkpoint, config)
    length = int(round(config.segment_seconds * config.sample_rate))
    generator = torch.Generator().manual_seed(0)
    example = 0.3 * torch.randn(2, length, generator=generator)
    data = _onnx_bytes(model, example, facts) if fmt == "onnx" else _torchscript_bytes(model, example, facts)
    check = 0.3 * torch.randn(3, length, generator=generator)  # another batch size: the batch is dynamic
    with torch.no_grad():
        expected = model(check)
    got = run_exported(data, fmt, check)
    difference = float((got - expected).abs().max())
    same_argmax = bool(torch.equal(got.argmax(dim=1), expected.argmax(dim=1)))
    if difference > PARITY_ATOL or not same_argmax:
        raise GtzanError(f"the {fmt} export of {run_dir} does not match PyTorch (max logit difference "
                         f"{difference:.2e}, same argmax: {same_argmax}); nothing was written")
    atomic_write_bytes(out, data)
    return {"out": str(out), "format": fmt, "bytes": len(data), "max_logit_difference": difference,
            "same_argmax": same_argmax, **facts}


def load_onnx_model(path: str | Path):
    """An exported ONNX model as (session, facts) for prediction."""
    path = Path(path)
    if not path.is_file():
        raise GtzanError(f"model file not found: {path}")
    session = onnx_session(str(path))
    meta = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in meta:
        raise GtzanError(f"{path} was not exported by gtzan-gpu (no {METADATA_KEY} metadata)")
    return session, json.loads(meta[METADATA_KEY])
