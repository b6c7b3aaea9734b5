"""``python -m gtzan_gpu`` is the ``gtzan-gpu`` command."""
import sys

from gtzan_gpu.cli import main

sys.exit(main())
