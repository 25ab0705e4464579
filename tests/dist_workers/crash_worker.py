"""A job in which one rank fails: ``raise`` (after init), ``before`` (an error before
init_process_group), ``exit`` (rank 1 leaves early without error), ``hang`` (rank 1 stops
answering). The other ranks wait in an all_reduce; the job must end, not hang."""

import os
import sys
import time
from datetime import timedelta

import wgtorch as torch
import wgtorch.distributed as dist

mode = sys.argv[1]
if mode == "before" and os.environ["RANK"] == "1":
    raise ValueError("boom before init_process_group")
dist.init_process_group("gloo", timeout=timedelta(seconds=float(sys.argv[2])))
t = torch.ones(3)
if dist.get_rank() == 1:
    if mode == "raise":
        raise ValueError("boom in rank 1")
    if mode == "exit":
        sys.exit(0)
    if mode == "hang":
        time.sleep(600)
dist.all_reduce(t)
print(f"rank {dist.get_rank()} finished: {t.tolist()}", flush=True)
