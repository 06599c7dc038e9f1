"""Jobs: queue, claim with a lease, take over a job whose lease ran out, finish exactly once."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import open_target
from storedata import C1, cells_of, grids_of

from gridmap.errors import ConflictError, InputError, NotFoundError
from gridmap.store import Store, jobs

LEASE = dt.timedelta(seconds=60)
RAN_OUT = dt.timedelta(seconds=-1)  # a lease that has run out already: its worker "died"


def test_a_job_is_queued_then_claimed_once(store: Store) -> None:
    job = store.add_job("partition", {"communities": [C1], "target": 3000}, actor="paula")
    assert (job.state, job.created_by, job.attempts, job.started_at) == ("queued", "paula", 0, None)
    assert job.params == {"communities": [C1], "target": 3000}
    claimed = store.claim_job("host:1", lease=LEASE)
    assert claimed is not None and claimed.id == job.id
    assert (claimed.state, claimed.worker, claimed.attempts) == ("running", "host:1", 1)
    assert claimed.lease and claimed.started_at is not None and claimed.lease_until is not None
    assert store.claim_job("host:2", lease=LEASE) is None  # held: nobody else gets it
    assert [j.id for j in store.jobs(state="running")] == [job.id]
    assert store.jobs(state="queued") == []
    assert [e.action for e in store.audit()][-1] == "add_job"


def test_the_oldest_job_is_claimed_first(store: Store) -> None:
    ids = [store.add_job("partition", {"k": k}, actor="paula").id for k in range(3)]
    claimed = [store.claim_job(f"w{k}", lease=LEASE) for k in range(3)]
    assert [c.id for c in claimed if c is not None] == ids
    assert [j.id for j in store.jobs()] == ids


def test_two_stores_claiming_at_once_take_different_jobs(
    store_target: tuple[str, str],
) -> None:
    engine, target = store_target
    stores = [open_target(engine, target) for _ in range(4)]
    try:
        for k in range(8):
            stores[0].add_job("partition", {"k": k}, actor="paula")

        def claim_all(k: int) -> list[str]:
            got = []
            while (job := stores[k].claim_job(f"w{k}", lease=LEASE)) is not None:
                got.append(job.id)
            return got

        with ThreadPoolExecutor(4) as pool:
            claimed = [i for ids in pool.map(claim_all, range(4)) for i in ids]
        assert sorted(claimed, key=int) == [j.id for j in stores[0].jobs()]  # each exactly once
    finally:
        for one in stores:
            one.close()


def test_a_job_whose_lease_ran_out_is_taken_over(store: Store) -> None:
    job = store.add_job("partition", {}, actor="paula")
    first = store.claim_job("dead:1", lease=RAN_OUT)
    assert first is not None
    second = store.claim_job("alive:2", lease=LEASE)
    assert second is not None and second.id == job.id
    assert (second.worker, second.attempts) == ("alive:2", 2) and second.lease != first.lease
    assert second.started_at == first.started_at  # the first claim's start is kept
    # the first worker comes back: every step of its stale claim is refused
    with pytest.raises(ConflictError, match=f"job {job.id}"):
        store.renew_job(job.id, str(first.lease), until=LEASE)
    with pytest.raises(ConflictError):
        store.finish_job(job.id, str(first.lease), result={})
    with pytest.raises(ConflictError):
        store.fail_job(job.id, str(first.lease), "late")
    assert store.job(job.id).state == "running" and store.job(job.id).worker == "alive:2"


# A GeoPackage's servers share one host, and so one clock: PostGIS only.
@pytest.mark.parametrize(
    "store_target", [pytest.param("postgis", marks=pytest.mark.postgis)], indirect=True
)
def test_a_host_whose_clock_runs_fast_does_not_take_over_a_live_lease(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = store.add_job("partition", {}, actor="paula")
    assert store.claim_job("host:1", lease=LEASE) is not None
    # this process now stands for a second host whose clock is an hour ahead
    fast = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    monkeypatch.setattr(jobs, "now", lambda: fast)
    assert store.claim_job("host:2", lease=LEASE) is None
    assert store.job(job.id).worker == "host:1"
    # and its renewal extends the lease from the database's now, not from its own
    renewed = store.renew_job(job.id, str(store.job(job.id).lease), until=LEASE)
    assert renewed.lease_until is not None and renewed.lease_until < fast


def test_progress_is_saved_with_the_renewal(store: Store) -> None:
    store.add_job("partition", {}, actor="paula")
    claimed = store.claim_job("w", lease=LEASE)
    assert claimed is not None
    progress = {"total": 3, "done": 1, "current": C1, "stage": "communities"}
    renewed = store.renew_job(claimed.id, str(claimed.lease), until=LEASE * 2, progress=progress)
    assert renewed.progress == progress
    assert renewed.lease_until is not None and claimed.lease_until is not None
    assert renewed.lease_until > claimed.lease_until
    assert store.renew_job(claimed.id, str(claimed.lease), until=LEASE).progress == progress


def test_finishing_creates_the_plan_once(store: Store) -> None:
    job = store.add_job("partition", {"communities": [C1]}, actor="paula")
    claimed = store.claim_job("w", lease=LEASE)
    assert claimed is not None and claimed.lease is not None
    cells = cells_of(C1)
    done = store.finish_job(
        job.id,
        claimed.lease,
        result={"grids": 2},
        cells=cells,
        grids=grids_of(cells),
        name="南湖",
        params={"target": 3000},
    )
    assert (done.state, done.result, done.lease) == ("done", {"grids": 2}, None)
    assert done.finished_at is not None and done.error is None
    [plan] = store.plans()
    assert done.result_plan == plan.id
    assert (plan.name, plan.created_by, plan.communities) == ("南湖", "paula", (C1,))
    assert plan.params == {"target": 3000, "job": job.id}
    with pytest.raises(ConflictError, match="done"):  # the same claim again: no second plan
        store.finish_job(job.id, claimed.lease, result={}, cells=cells, grids=grids_of(cells))
    assert len(store.plans()) == 1
    assert store.claim_job("w2", lease=LEASE) is None  # a done job is never claimed again


def test_a_failed_job_keeps_its_error(store: Store) -> None:
    job = store.add_job("partition", {}, actor="paula")
    claimed = store.claim_job("w", lease=LEASE)
    assert claimed is not None
    failed = store.fail_job(job.id, str(claimed.lease), "no community 500108999999")
    assert (failed.state, failed.error, failed.result_plan) == (
        "failed",
        "no community 500108999999",
        None,
    )
    assert store.claim_job("w", lease=LEASE) is None


def test_a_released_job_is_queued_again_without_counting_the_claim(store: Store) -> None:
    job = store.add_job("partition", {}, actor="paula")
    claimed = store.claim_job("w", lease=LEASE)
    assert claimed is not None
    back = store.release_job(job.id, str(claimed.lease))
    assert (back.state, back.attempts, back.lease) == ("queued", 0, None)
    again = store.claim_job("w2", lease=LEASE)
    assert again is not None and again.id == job.id and again.attempts == 1


def test_a_job_that_keeps_killing_its_worker_is_failed(store: Store) -> None:
    job = store.add_job("partition", {}, actor="paula")
    for _ in range(2):
        assert store.claim_job("w", lease=RAN_OUT, max_attempts=2) is not None
    assert store.claim_job("w", lease=LEASE, max_attempts=2) is None
    failed = store.job(job.id)
    assert failed.state == "failed" and "stopped 2 times" in str(failed.error)


def test_bad_job_input(store: Store) -> None:
    with pytest.raises(NotFoundError, match="no job 9"):
        store.job("9")
    with pytest.raises(NotFoundError):
        store.job("x")
    with pytest.raises(InputError, match="state"):
        store.jobs(state="sleeping")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="actor"):
        store.add_job("partition", {}, actor="")
    with pytest.raises(InputError, match="kind"):
        store.add_job("", {}, actor="paula")
