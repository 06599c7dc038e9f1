"""Rate-limit usage shared through the store (both engines): what each process took adds up
per (bucket kind, client, slot); a process reads only the others' usage; old slots go."""

from __future__ import annotations

from gridmap.store import Store


def test_usage_adds_up_per_process_and_each_reads_the_others(store: Store) -> None:
    a, b = "proc-a", "proc-b"
    assert store.share_rate_usage(a, 100, {}, since_slot=99, expire_before=94) == {}
    taken = {("requests", "10.0.0.1"): 3.0, ("sign_in_name", "ann"): 1.0}
    assert store.share_rate_usage(a, 100, taken, since_slot=99, expire_before=94) == {}
    store.share_rate_usage(a, 100, {("requests", "10.0.0.1"): 2.5}, since_slot=99, expire_before=94)
    store.share_rate_usage(a, 99, {("requests", "10.0.0.1"): 4.0}, since_slot=99, expire_before=94)
    seen = store.share_rate_usage(
        b, 100, {("requests", "10.0.0.1"): 7.0}, since_slot=99, expire_before=94
    )
    assert seen == {
        ("requests", "10.0.0.1", 100): 5.5,
        ("requests", "10.0.0.1", 99): 4.0,
        ("sign_in_name", "ann", 100): 1.0,
    }
    assert store.share_rate_usage(a, 100, {}, since_slot=100, expire_before=94) == {
        ("requests", "10.0.0.1", 100): 7.0
    }
    # A third process sees both, summed per slot; slots before expire_before are deleted.
    store.share_rate_usage(b, 107, {("requests", "x"): 1.0}, since_slot=106, expire_before=100)
    assert store.share_rate_usage("proc-c", 107, {}, since_slot=0, expire_before=0) == {
        ("requests", "10.0.0.1", 100): 12.5,
        ("sign_in_name", "ann", 100): 1.0,
        ("requests", "x", 107): 1.0,
    }


def test_many_clients_in_one_sync(store: Store) -> None:
    taken = {("requests", f"10.0.{k // 250}.{k % 250}"): 1.0 for k in range(1_200)}
    store.share_rate_usage("proc-a", 5, taken, since_slot=4, expire_before=0)
    seen = store.share_rate_usage("proc-b", 5, {}, since_slot=4, expire_before=0)
    assert len(seen) == 1_200 and set(seen.values()) == {1.0}
