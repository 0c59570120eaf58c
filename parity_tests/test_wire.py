"""How large messages travel between the supervisor and a worker (nnparity/wire.py)."""

from __future__ import annotations

import gc
import mmap
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np

from nnparity import wire


def chunk_message() -> dict:
    rng = np.random.default_rng(7)
    return {
        "trace": {"hidden_layer_input": rng.normal(size=(6, 2000, 64))},  # 6 MB
        "weights": {"wh": rng.normal(size=(50, 64)), "bout": rng.normal(size=(1, 1))},
    }


def owner(array: np.ndarray):
    """The object whose memory an array uses (a mapped file, a bytearray, itself)."""
    base = array
    while getattr(base, "base", None) is not None:
        base = base.base
    return base.obj if isinstance(base, memoryview) else base


def test_a_large_message_of_the_supervisor_arrives_whole_and_its_file_is_gone(tmp_path):
    message = chunk_message()
    packed = wire.encode(message, folder=tmp_path)
    assert packed[0] == "parts", "a 6 MB message should travel through a file, not the socket"
    received = wire.decode(packed)
    for part in ("trace", "weights"):
        for name, value in message[part].items():
            np.testing.assert_array_equal(received[part][name], value, err_msg=f"{part} {name}")
    assert not list(tmp_path.iterdir()), "the message's file was left behind after decoding"


def test_a_small_message_goes_through_the_socket(tmp_path):
    packed = wire.encode({"weights": {"wh": np.ones((2, 3))}}, wire.Arena(tmp_path), tmp_path)
    assert packed[0] == "inline"
    assert not list(tmp_path.iterdir())


def test_small_arrays_do_not_keep_a_large_messages_mapping_alive(tmp_path):
    received = wire.decode(wire.encode(chunk_message(), wire.Arena(tmp_path)))
    weights = received["weights"]["wh"]
    assert weights.nbytes < wire.KEEP_MAPPED_BYTES
    assert not isinstance(owner(weights), mmap.mmap), (
        "a small array is a view of the mapped file: keeping it (the weights between chunks) "
        "would keep the whole chunk in memory"
    )
    large = received["trace"]["hidden_layer_input"]
    assert large.nbytes >= wire.KEEP_MAPPED_BYTES and isinstance(owner(large), mmap.mmap), (
        "a large array should be read where it was mapped, without a copy"
    )


#: What a socket holds by default on Linux (net.core.wmem_default): a larger message makes
#: its sender wait in send() until the reader reads.
SOCKET_BYTES = 212992


def small_arrays(count: int = 8) -> dict:
    """A scale chunk's output layer: [3, 2000, 1] each (48 KB), together over SOCKET_BYTES."""
    rng = np.random.default_rng(8)
    return {f"small_{i}": rng.normal(size=(3, 2000, 1)) for i in range(count)}


def assert_small_arrays_arrive_as_copies(received: dict, sent: dict) -> None:
    for name, value in sent.items():
        np.testing.assert_array_equal(received[name], value, err_msg=name)
        assert not isinstance(owner(received[name]), mmap.mmap), (
            f"{name}: a small array read as a view of the mapped file would keep it alive"
        )


class Worker:
    """A worker's side of the slots, and what the supervisor said it let go of."""

    def __init__(self, folder):
        self.arena, self.released = wire.Arena(folder), []

    def reply(self, message):
        self.arena.release(list(self.released))
        self.released.clear()
        return wire.encode(message, self.arena)


def test_a_reply_arrives_whole_through_a_slot_that_stays(tmp_path):
    worker, message = Worker(tmp_path), chunk_message()
    packed = worker.reply(message)
    assert packed[0] == "parts" and len(packed[3]) == 1, "a large reply should use one slot"
    received = wire.decode(packed, worker.released.append)
    np.testing.assert_array_equal(
        received["trace"]["hidden_layer_input"], message["trace"]["hidden_layer_input"]
    )
    assert [p.name for p in tmp_path.iterdir()] == [Path(packed[3][0][1]).name], (
        "the slot's file should stay for the next reply"
    )


def test_a_slot_is_written_again_only_once_every_array_on_it_is_gone(tmp_path):
    """The supervisor compares chunk k while chunk k+1 is written: never into chunk k's slot."""
    worker = Worker(tmp_path)
    first = worker.reply(chunk_message())
    kept = wire.decode(first, worker.released.append)["trace"]["hidden_layer_input"][2:4]
    copy = kept.copy()
    second = worker.reply({"trace": {"hidden_layer_input": np.zeros((6, 2000, 64))}})
    assert second[3][0][0] != first[3][0][0], (
        "a slot still read by the supervisor was written again"
    )
    np.testing.assert_array_equal(kept, copy, err_msg="an array changed under the supervisor")
    wire.decode(second, worker.released.append)  # dropped at once: its slot is free
    assert worker.released == [second[3][0][0]], (
        f"the second reply's slot should be free once its arrays are gone: {worker.released}"
    )
    worker.arena.release(worker.released)
    worker.released.clear()
    del kept
    gc.collect()
    assert worker.released == [first[3][0][0]], (
        "the first reply's slot should be free once the last array on it (a slice) is gone"
    )
    third = worker.reply(chunk_message())
    slots_made = len(list(tmp_path.iterdir()))
    assert third[3][0][0] in (first[3][0][0], second[3][0][0]) and slots_made == 2, (
        f"a free slot should be written again rather than a new one made ({slots_made} files)"
    )


def test_a_slot_left_idle_gives_its_memory_back(tmp_path):
    """The determinism check's replies hold two slots at the start; a worker that then writes
    every chunk into one slot gives the other back, and keeps the one it uses."""
    worker = Worker(tmp_path)
    checks = [wire.decode(worker.reply(chunk_message()), worker.released.append)
              for _ in range(2)]
    checks = None  # judged, let go of
    for _ in range(wire.IDLE_TAKES + 1):
        wire.decode(worker.reply(chunk_message()), worker.released.append)
    worker.arena.release(list(worker.released))
    assert checks is None and len(list(tmp_path.iterdir())) == 1, (
        "a slot no reply took for IDLE_TAKES replies should have given its memory back, and "
        f"the one in use stayed: {sorted(p.name for p in tmp_path.iterdir())}"
    )


def test_a_worker_whose_slots_are_all_held_sends_a_file_of_its_own(tmp_path):
    worker, held = Worker(tmp_path), []
    for _ in range(wire.MAX_SLOTS):
        held.append(wire.decode(worker.reply(chunk_message()), worker.released.append))
    packed = wire.encode(chunk_message(), worker.arena, tmp_path)
    assert packed[3] == [] and {p[0] for p in packed[2]} == {"once"}, (
        f"with every slot held the reply should go into a file of its own: {packed[2]}"
    )
    np.testing.assert_array_equal(
        wire.decode(packed)["trace"]["hidden_layer_input"],
        chunk_message()["trace"]["hidden_layer_input"],
    )


def test_arrays_sent_on_to_another_worker_are_not_copied_again(tmp_path):
    """Python's chunk goes on to R's lockstep as the same region of Python's slot."""
    worker, message = Worker(tmp_path / "python"), chunk_message()
    (tmp_path / "python").mkdir()
    (tmp_path / "supervisor").mkdir()
    trace = wire.decode(worker.reply(message), worker.released.append)["trace"]
    request = wire.encode(("lockstep", (trace,)), folder=tmp_path / "supervisor")
    large = [part for part in request[2] if part[0] != "bytes"]
    assert large and all(p[0] == "slot" and "python" in p[1] for p in large), (
        f"the supervisor should name Python's slot, not write the chunk again: {large}"
    )
    assert not list((tmp_path / "supervisor").iterdir())
    operation, (sent_on,) = wire.decode(request)
    np.testing.assert_array_equal(
        sent_on["hidden_layer_input"], message["trace"]["hidden_layer_input"]
    )


def mapped_message_files() -> int:
    """How many large messages' files this process has mapped right now."""
    with open("/proc/self/maps") as maps:
        return len({line.split()[-2] for line in maps if "nnparity-wire-" in line})


def test_a_run_keeps_only_the_chunks_it_is_comparing(r_available, tmp_path):
    """Each chunk is let go once compared: a chunk kept alive (a reference cycle around its
    trace, a reply held for the whole run) kept 9 of them mapped on the scale case."""
    from nnparity import supervise, traces
    from nnparity.cases import load_case, write_case
    from parity_tests.test_scale import scale_case

    case = load_case(write_case(scale_case(12), tmp_path / "scale"))  # 5.2 MB an epoch
    seen = []
    gc.disable()  # a chunk must go when its last reference does, not when the collector runs
    try:
        _run_observed(case, seen, supervise, traces)
    finally:
        gc.enable()
    # the chunk being compared: Python's, R's free-running one and R's lockstep one
    assert len(seen) == 2 * 12 and max(seen) <= 3, (
        f"message files still mapped after each of 12 chunks: {seen}"
    )


def test_in_a_run_each_worker_writes_its_chunks_into_the_same_few_slots(
    r_available, tmp_path, monkeypatch
):
    """The supervisor tells each worker which slots it let go of, and the worker writes its
    next chunk there: no reply after the start needs a file of its own (which costs the
    kernel fresh pages: 13 ms against 3.8 ms for 16 MiB), and no worker keeps making slots."""
    from nnparity import supervise, traces
    from nnparity.cases import load_case, write_case
    from parity_tests.test_scale import scale_case

    case = load_case(write_case(scale_case(12), tmp_path / "scale"))
    replies = []  # (how its large parts travel, the slots it holds), in the order read
    decode = wire.decode

    def spied(packed, released=None, **how):
        if packed[0] == "parts" and released is not None:  # a worker's reply
            hows = {part[0] for part in packed[2] if part[0] != "bytes"}
            replies.append((hows, [Path(path).name for _, path in packed[3]]))
        return decode(packed, released, **how)

    monkeypatch.setattr(wire, "decode", spied)
    with supervise.Supervisor() as ports:
        python_port, r_port = ports.port("python"), ports.port("r")
        python_port.wait_loaded()
        r_port.wait_loaded()
        run = traces.run(case, python_port, r_port, 12, chunk_bytes=traces.epoch_bytes(case))
    assert run.passed
    # the determinism checks' two replies per worker and the first chunks may find every
    # slot held; from then on, every chunk goes into a slot
    later = replies[8:]
    assert later and all(hows == {"slot"} for hows, _ in later), (
        f"replies that needed a file of their own after the start: {later}"
    )
    slots = {name for _, held in replies for name in held}
    assert len(slots) <= 2 * (wire.MAX_SLOTS + 1), (
        f"the workers kept making new slots instead of writing the free ones again: {slots}"
    )


def _run_observed(case, seen, supervise, traces):
    with supervise.Supervisor() as ports:
        python_port, r_port = ports.port("python"), ports.port("r")
        python_port.wait_loaded()
        r_port.wait_loaded()
        run = traces.run(
            case, python_port, r_port, 12, chunk_bytes=traces.epoch_bytes(case),
            observe=lambda language, trace: seen.append(mapped_message_files()),
        )
    assert run.passed


def test_a_message_that_cannot_be_written_to_a_file_goes_through_the_socket(tmp_path):
    """A full or small /dev/shm (test_supervision mounts a 1 MB one) must not fail a run."""
    message = chunk_message()
    packed = wire.encode(message, wire.Arena(tmp_path / "no such folder"), tmp_path / "nor this")
    assert packed[0] == "inline"
    np.testing.assert_array_equal(
        wire.decode(packed)["trace"]["hidden_layer_input"],
        message["trace"]["hidden_layer_input"],
    )


def test_arrays_placed_in_a_slot_are_sent_from_where_they_were_written(tmp_path):
    """R's chunk is copied out of R straight into a slot (RPort.place): not copied again."""
    arena = wire.Arena(tmp_path)
    (placed,) = arena.place([(6, 2000, 64)])
    placed[:] = chunk_message()["trace"]["hidden_layer_input"]
    packed = wire.encode({"trace": {"hidden_layer_input": placed}}, arena)
    (slot,) = arena.slots.values()
    assert packed[3] == [(slot.number, slot.path)] and [p[:3] for p in packed[2]] == [
        ("slot", slot.path, 0)
    ], f"the placed array should travel from its own place in the slot: {packed[2]}"
    np.testing.assert_array_equal(
        wire.decode(packed)["trace"]["hidden_layer_input"],
        chunk_message()["trace"]["hidden_layer_input"],
    )


def test_a_slot_placed_for_a_reply_that_did_not_carry_it_is_free_again(tmp_path):
    """A port that fails after its arrays were placed replies with an error: no slot stays held."""
    arena = wire.Arena(tmp_path)
    arena.place([(6, 2000, 64)])
    assert wire.encode(("port", "RuntimeError: it failed"), arena)[0] == "inline"
    assert not any(slot.held for slot in arena.slots.values()), (
        "a slot placed for a reply that never carried it is held for ever: the worker would "
        "run out of slots"
    )


def test_a_run_removes_the_folders_of_supervisors_that_are_gone(tmp_path):
    """A supervisor killed by SIGKILL leaves its slots behind, in memory: the next run frees
    them. Folders of running supervisors, and anything else, stay."""
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True, text=True, check=True,
    )
    gone = tmp_path / f"{wire.FOLDER_PREFIX}{ended.stdout.strip()}-abc123"
    running = tmp_path / f"{wire.FOLDER_PREFIX}{os.getppid()}-def456"
    other = tmp_path / "nnparity-wire-old"
    for folder in (gone, running, other):
        folder.mkdir()
        (folder / "slot.bin").write_bytes(b"x" * 100)
    wire._remove_stale(tmp_path)
    assert not gone.exists(), "the folder of a supervisor that is gone was left in memory"
    assert running.exists() and other.exists(), "a folder still in use, or not a run's, was removed"
    made = Path(wire.run_folder())
    made.rmdir()
    assert made.name.startswith(f"{wire.FOLDER_PREFIX}{os.getpid()}-"), (
        f"a run's folder should carry its supervisor's process id: {made.name}"
    )


def test_a_system_without_posix_fallocate_sends_through_files_of_their_own(
    tmp_path, monkeypatch
):
    """macOS has no posix_fallocate: no slot, and every reply still arrives whole."""
    monkeypatch.delattr(os, "posix_fallocate")
    packed = wire.encode(chunk_message(), wire.Arena(tmp_path), tmp_path)
    assert packed[3] == [] and "once" in {p[0] for p in packed[2]}
    np.testing.assert_array_equal(
        wire.decode(packed)["trace"]["hidden_layer_input"],
        chunk_message()["trace"]["hidden_layer_input"],
    )


def test_a_large_replys_small_arrays_travel_in_its_slot_not_through_the_socket(tmp_path):
    worker, message, small = Worker(tmp_path), chunk_message(), small_arrays()
    message["trace"].update(small)
    packed = worker.reply(message)
    on_the_socket = len(pickle.dumps(packed, protocol=5))
    assert on_the_socket < SOCKET_BYTES // 4, (
        f"a chunk's small arrays ({sum(v.nbytes for v in small.values())} bytes) went through "
        f"the socket ({on_the_socket} bytes): its sender waits until the supervisor reads"
    )
    assert_small_arrays_arrive_as_copies(wire.decode(packed)["trace"], small)


def test_small_arrays_an_r_port_placed_in_a_slot_are_read_from_there(tmp_path):
    """R's chunk is copied out of R straight into a slot (Arena.place), small arrays too."""
    worker, small = Worker(tmp_path), small_arrays()
    shapes = [(3, 2000, 64)] + [value.shape for value in small.values()]
    placed = worker.arena.place(shapes)
    for target, value in zip(placed[1:], small.values(), strict=True):
        target[...] = value
    message = {"trace": {"large": placed[0], **dict(zip(small, placed[1:], strict=True))}}
    packed = worker.reply(message)
    assert len(pickle.dumps(packed, protocol=5)) < SOCKET_BYTES // 4 and not any(
        part[0] == "bytes" for part in packed[2]
    ), "small arrays already in a slot should be named there, not copied into the socket"
    assert_small_arrays_arrive_as_copies(wire.decode(packed)["trace"], small)


class _Named(str):
    """A trace's name as a port could make it: a str whose pickle calls a function."""

    def __reduce__(self):
        return (os.getpid, ())


def test_a_workers_reply_naming_a_function_is_refused_not_called(tmp_path):
    """Unpickling calls what a pickle names: a port's str subclass among its trace's names
    made the supervisor run the port's code (it printed a forged verdict and exited 0)."""
    import pytest

    reply = ("ok", {"trace": {_Named("E"): np.ones((2, 3, 1))}})
    for packed in (wire.encode(reply), wire.encode(reply, wire.Arena(tmp_path))):
        raw = pickle.dumps(packed)
        with pytest.raises(wire.Unreadable, match="posix.getpid"):
            wire.decode(wire.loads(raw), reply_of=tmp_path)


def test_a_workers_reply_of_numbers_names_and_arrays_reads_as_sent(tmp_path):
    from nnparity.cells import StepFailure, Unrecorded

    reply = ("ok", {"trace": chunk_message()["trace"], "E": Unrecorded(2),
                    "d_output": StepFailure(1, "R said no"), "count": 3, "lr": 0.5})
    packed = wire.encode(reply, wire.Arena(tmp_path))
    received = wire.decode(wire.loads(pickle.dumps(packed)), reply_of=tmp_path)
    assert received[1]["E"] == Unrecorded(2) and received[1]["d_output"] == StepFailure(
        1, "R said no")
    np.testing.assert_array_equal(received[1]["trace"]["hidden_layer_input"],
                                  reply[1]["trace"]["hidden_layer_input"])


def test_a_workers_reply_naming_a_file_outside_the_run_folder_leaves_it_alone(tmp_path):
    """A "once" file is unlinked once read: a reply naming the user's file would delete it."""
    import pytest

    run, outside = tmp_path / "run", tmp_path / "precious.bin"
    run.mkdir()
    outside.write_bytes(bytes(64))
    _, skeleton, parts, slots = wire.encode(chunk_message(), folder=run)
    forged = ("parts", skeleton, [("once", str(outside), 0, 64, False)] + parts[1:], slots)
    with pytest.raises(wire.Unreadable, match="outside the run's folder"):
        wire.decode(forged, reply_of=run)
    assert outside.read_bytes() == bytes(64), "a reply's forged file name was opened or removed"
