"""aec.threads: the default thread count is the cores that other work leaves free, from a mocked load."""

import pytest

from aec import threads
from aec.threads import CpuSample, Sampler, free_cores


def at(time, busy, own):
    return CpuSample(time=time, busy=busy, own=own)


@pytest.mark.parametrize("others, expected", [(0.0, 2), (0.3, 2), (0.9, 1), (1.0, 1), (2.0, 1), (5.0, 1)])
def test_the_free_cores_are_the_cores_less_the_busy_time_of_other_processes(others, expected):
    # over one second on two cores this process used 0.7 s of CPU time, the others `others`
    assert free_cores(at(10.0, 100.0, 1.0), at(11.0, 100.0 + 0.7 + others, 1.7), 2) == expected


def test_this_processs_own_work_leaves_its_cores_free():
    assert free_cores(at(0.0, 0.0, 0.0), at(1.0, 2.0, 2.0), 2) == 2  # both cores busy, all of it this process
    assert free_cores(at(0.0, 0.0, 0.0), at(1.0, 3.9, 1.9), 4) == 2  # two more busy cores of four


def test_an_empty_window_takes_every_core():
    assert free_cores(at(1.0, 5.0, 0.0), at(1.0, 9.0, 0.0), 2) == 2


class Clock:
    def __init__(self):
        self.now = 100.0
        self.slept = []

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_the_sampler_measures_a_short_window_first_then_the_time_since_its_last_count():
    clock = Clock()
    busy = {"value": 0.0}

    def read():
        return at(clock.now, busy["value"], 0.0)

    sampler = Sampler(read, clock.sleep, lambda: clock.now, lambda: 2)
    busy["value"] = 0.0
    assert sampler.free() == 2 and clock.slept == [threads.WINDOW_S]  # nothing else ran in the window
    clock.now += 1.0
    busy["value"] += 1.0  # another process kept a core busy for the second since the last count
    assert sampler.free() == 1 and clock.slept == [threads.WINDOW_S]  # no new wait: the second is the window
    clock.now += 1.0
    assert sampler.free() == 2  # and it stopped


def test_a_started_window_counts_and_a_stale_one_is_measured_again():
    clock = Clock()
    sampler = Sampler(lambda: at(clock.now, 0.0, 0.0), clock.sleep, lambda: clock.now, lambda: 2)
    sampler.start()
    clock.now += 0.5  # a command's start-up
    assert sampler.free() == 2 and clock.slept == []
    clock.now += threads.STALE_S + 1
    assert sampler.free() == 2 and clock.slept == [threads.WINDOW_S]


def test_without_a_load_to_read_the_libraries_keep_their_default(monkeypatch):
    assert Sampler(lambda: None, lambda s: None, lambda: 0.0, lambda: 2).free() is None
    monkeypatch.setattr(threads, "_SAMPLER", Sampler(lambda: None, lambda s: None, lambda: 0.0, lambda: 2))
    assert threads.default_threads() is None


def test_one_core_needs_no_count():
    assert Sampler(lambda: pytest.fail("read"), lambda s: None, lambda: 0.0, lambda: 1).free() == 1


@pytest.mark.parametrize("free, expected", [(2, None), (1, 1)])
def test_the_default_limits_the_threads_only_below_one_per_core(monkeypatch, free, expected):
    monkeypatch.setattr(threads, "cores", lambda: 2)
    monkeypatch.setattr(threads._SAMPLER, "free", lambda: free)
    assert threads.default_threads() == expected


def test_the_sample_reads_only_the_cores_this_process_may_run_on(tmp_path, monkeypatch):
    stat = tmp_path / "stat"
    stat.write_text("cpu  9 9 9 9 9 9 9 9 0 0\n"
                    "cpu0 100 50 20 999 1 2 3 4 0 0\n"
                    "cpu1 1000 500 200 999 10 20 30 40 0 0\n"
                    "intr 1 2 3\n")
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0})
    sampled = threads.sample(str(stat))
    ticks = threads._CLOCK_TICKS
    assert sampled.busy == pytest.approx((100 + 50 + 20 + 2 + 3 + 4) / ticks)  # all but idle and iowait
    assert threads.sample(str(tmp_path / "missing")) is None


@pytest.mark.parametrize("threads", [1, 2])
def test_calls_from_two_threads_that_end_in_either_order_leave_numpys_threads_as_they_were(threads, monkeypatch):
    # An app decoding in two threads at once: the first call to end must not undo the second's one-thread BLAS, and
    # the last must leave the process's BLAS as it found it (a stack of limits, unwound out of order, did not). The
    # BLAS is a fake that keeps one process-wide count, as OpenBLAS does: what is tested is what aec asks of it.
    import threading

    import threadpoolctl

    from aec import Codec

    blas = {"threads": 8}
    calls = []

    class Limiter:
        def __init__(self, limits, user_api=None):
            calls.append(("limit", limits, user_api))
            self.original, blas["threads"] = blas["threads"], limits

        def restore_original_limits(self):
            calls.append(("restore",))
            blas["threads"] = self.original

    monkeypatch.setattr(threadpoolctl, "threadpool_limits", Limiter)
    codecs = [Codec(threads=threads), Codec(threads=threads)]
    entered, leave = [threading.Event(), threading.Event()], [threading.Event(), threading.Event()]
    inside: list[int] = [0, 0]

    def call(index: int) -> None:
        with codecs[index]._limited_threads():
            entered[index].set()
            leave[index].wait(10)
            inside[index] = blas["threads"]

    workers = [threading.Thread(target=call, args=(index,)) for index in range(2)]
    workers[0].start()
    assert entered[0].wait(10)
    workers[1].start()
    assert entered[1].wait(10)
    leave[0].set()
    workers[0].join(10)
    leave[1].set()  # the first call has ended; the second is still inside
    workers[1].join(10)
    assert inside == [1, 1]
    assert blas["threads"] == 8
    assert calls == [("limit", 1, "blas"), ("restore",)]


def test_a_shared_setting_is_applied_by_the_first_holder_and_restored_by_the_last_in_any_order():
    from aec.threads import SharedSetting

    setting, log = SharedSetting(), []

    def apply():
        log.append("apply")
        return lambda: log.append("restore")

    first, second = setting.held(apply), setting.held(apply)
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first holder leaves while the second still holds it
    assert log == ["apply"]
    second.__exit__(None, None, None)
    assert log == ["apply", "restore"]
    with setting.held(apply):  # and again from scratch
        pass
    assert log == ["apply", "restore", "apply", "restore"]
