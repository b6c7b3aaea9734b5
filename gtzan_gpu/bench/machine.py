"""What a benchmark ran on: device name, torch version, threads, and a file-name slug for the results."""
from __future__ import annotations

import platform
import re

import torch


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU {cpu_model()} ({torch.get_num_threads()} threads)"


def device_slug(device: torch.device) -> str:
    """A file name for this device's results, e.g. 'nvidia-h100-80gb-hbm3' or 'cpu-intel-xeon-2t'."""
    if device.type == "cuda":
        text = torch.cuda.get_device_name(device)
    else:
        words = re.sub(r"\(.*?\)|@.*|CPU|Processor", " ", cpu_model()).split()[:3]
        text = "cpu " + " ".join(words) + f" {torch.get_num_threads()}t"
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def machine_facts(device: torch.device) -> dict:
    facts = {"device": device_name(device), "device_type": device.type, "torch": torch.__version__,
             "python": platform.python_version(), "threads": torch.get_num_threads(), "cpu": cpu_model(),
             "platform": platform.platform()}
    if device.type == "cuda":
        facts["cuda"] = torch.version.cuda
        facts["cudnn"] = torch.backends.cudnn.version()
    return facts
