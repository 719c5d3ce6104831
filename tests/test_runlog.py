"""cs182meta.runlog: one JSON line per loop, and the uncapped time it predicts."""

import pytest

from cs182meta import runlog


def record(steps, planned, first_step_s, total_s):
    return {"desc": "loop", "planned": planned, "steps": steps, "first_item_s": 0.0,
            "first_step_s": first_step_s, "total_s": total_s, "peak_cuda_bytes": None}


def test_uncapped_time_is_the_first_step_plus_the_planned_steps_after_it():
    loop = record(steps=3, planned=1000, first_step_s=5.0, total_s=7.0)  # then 1 s per step
    assert runlog.seconds_per_step(loop) == pytest.approx(1.0)
    assert runlog.uncapped_seconds(loop) == pytest.approx(5.0 + 999 * 1.0)


def test_one_step_counts_the_rest_at_its_own_time_and_no_plan_means_as_run():
    assert runlog.seconds_per_step(record(1, 10, 2.0, 2.0)) is None
    assert runlog.uncapped_seconds(record(1, 10, 2.0, 2.0)) == pytest.approx(20.0)
    assert runlog.uncapped_seconds(record(3, None, 1.0, 2.0)) == pytest.approx(2.0)
    assert runlog.uncapped_seconds(record(0, 10, None, 0.5)) == pytest.approx(0.5)


def test_a_loop_stopped_early_is_logged_when_its_iterator_closes(tmp_path):
    log = tmp_path / "run.jsonl"
    loop = runlog.timed(iter(range(10)), "partial", 10, log)
    assert next(loop) == 0 and next(loop) == 1
    loop.close()
    (logged,) = runlog.read(log)
    assert (logged["desc"], logged["planned"], logged["steps"]) == ("partial", 10, 1)
    assert runlog.read(tmp_path / "absent.jsonl") == []
