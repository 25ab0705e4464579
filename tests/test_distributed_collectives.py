"""Every collective, point-to-point and object operation on 2 ranks (started by the
launcher), against numpy; see tests/dist_workers/collectives_worker.py."""

from dist_helpers import launch

# a sample of the checks each rank must report (the worker asserts every result itself)
EXPECTED = [
    "environment", "all_reduce SUM", "all_reduce AVG", "all_reduce PRODUCT", "all_reduce MIN",
    "all_reduce MAX", "all_reduce non-contiguous", "all_reduce into a slice",
    "all_reduce int64 BXOR", "all_reduce int64 AVG", "all_reduce bool SUM", "all_reduce float16",
    "all_reduce 0-d", "all_reduce empty", "all_reduce one readback one upload",
    "all_reduce of a parameter", "async work handles", "async result without wait",
    "broadcast non-contiguous", "broadcast int64 group_src", "reduce MAX to dst",
    "all_gather uneven from 0", "all_gather uneven from 1", "all_gather_into_tensor concat",
    "all_gather_into_tensor stacked", "gather", "scatter", "reduce_scatter uneven",
    "reduce_scatter_tensor AVG", "all_to_all uneven from 0", "all_to_all uneven from 1",
    "all_to_all_single uneven splits", "all_to_all_single even", "isend/irecv ring",
    "batch_isend_irecv", "groups", "all_reduce in a 1-rank group", "broadcast in a new group",
    "object collectives", "all_gather_object tensor 1", "all_gather wrong list length",
    "gather_list on a non-destination rank", "BAND on floats", "send to self", "init twice",
    "usable after errors", "done",
]


def test_every_collective_against_numpy_on_2_ranks():
    job = launch("collectives_worker.py", via="launcher")
    assert job.returncode == 0, job.describe()
    for rank in (0, 1):
        reported = job.ok_lines(rank)
        missing = [name for name in EXPECTED if name not in reported]
        if rank == 1:
            assert "all_reduce in a 1-rank group" in reported
        else:
            missing = [m for m in missing if m != "all_reduce in a 1-rank group"]
        assert not missing, f"rank {rank} did not report {missing}\n{job.describe()}"
    assert "recv of a message of another size" in job.ok_lines(1)
    assert 'ENV {"RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2"' in job.output
