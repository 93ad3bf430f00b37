"""Model tests run torch on one thread: the networks are tiny, and on a small machine shared with
other test processes OpenMP's spinning worker threads slow small forward passes down many times."""
from __future__ import annotations

import torch

torch.set_num_threads(1)
