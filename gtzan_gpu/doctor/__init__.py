"""``gtzan-gpu doctor``: does this machine run the project's own paths? Environment facts, then checks."""
from gtzan_gpu.doctor.checks import CheckResult, run_doctor
from gtzan_gpu.doctor.environment import environment_facts

__all__ = ["CheckResult", "environment_facts", "run_doctor"]
