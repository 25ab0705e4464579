"""DistributedDataParallel on 2 ranks (plain ``mpiexec -n 2``) against 1-process training
on the union of the ranks' batches; see tests/dist_workers/ddp_worker.py."""

from dist_helpers import launch

EXPECTED = [
    "SGD momentum, small buckets: DDP == 1-process training on the union",
    "SGD momentum, small buckets: replicas identical",
    "Adam, static graph: DDP == 1-process training on the union",
    "Adam, static graph: replicas identical",
    "state_dict keys prefixed module.",
    "no_sync: local gradient 0", "no_sync: accumulated then averaged gradient 5",
    "find_unused_parameters: body.weight", "find_unused_parameters: heads.0.weight",
    "find_unused_parameters: heads.1.bias",
    "find_unused_parameters: unused everywhere keeps grad None",
    "unused parameters without find_unused_parameters", "forward under no_grad",
    "buffers broadcast at construction", "buffers broadcast from rank 0 before forward",
    "DDP of a module without trainable parameters", "DDP of different models",
    "uneven inputs under join (divide_by_initial_world_size=True)",
    "uneven inputs under join (divide_by_initial_world_size=True): replicas identical after join",
    "uneven inputs under join (divide_by_initial_world_size=False)",
    "collectives after join", "done",
]


def test_ddp_matches_single_process_training_on_2_ranks():
    job = launch("ddp_worker.py", via="mpiexec")
    assert job.returncode == 0, job.describe()
    for rank in (0, 1):
        missing = [name for name in EXPECTED if name not in job.ok_lines(rank)]
        assert not missing, f"rank {rank} did not report {missing}\n{job.describe()}"
