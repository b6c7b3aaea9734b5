import json
import os
import subprocess
import sys

from gtzan_gpu.allocator import without_malloc_settings

FAULTS = r'''
import json, resource, sys, torch
from gtzan_gpu.allocator import retain_freed_memory
def faults():  # 40 MiB blocks: over glibc's largest adaptive mmap threshold (32 MiB), so by default each is an mmap
    for _ in range(15):  # the heap settles within ~9 such blocks once mmaps are off (measured)
        torch.ones(10 << 20)
    start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        torch.ones(10 << 20)  # freed at once
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start
before = faults()
done = retain_freed_memory()
print(json.dumps({"before": before, "after": faults(), "done": done}))
'''


def _run(extra_env: dict) -> dict:
    env = without_malloc_settings(dict(os.environ))
    out = subprocess.run([sys.executable, "-c", FAULTS], env={**env, **extra_env}, check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_freed_blocks_are_reused_instead_of_faulted_in_again():
    result = _run({})
    if result["done"]["malloc"] != "glibc":  # musl, macOS: nothing to set
        assert result["done"]["malloc"].startswith("left as it is")
        return
    assert result["before"] > 1000 and result["after"] < result["before"] // 10


def test_a_users_own_malloc_settings_are_left_alone():
    result = _run({"MALLOC_TOP_PAD_": "1"})
    assert result["done"] == {"malloc": "left as the environment sets it (MALLOC_TOP_PAD_)"}
