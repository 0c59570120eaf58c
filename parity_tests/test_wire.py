"""How large messages travel between the supervisor and a worker (nnparity/wire.py)."""

from __future__ import annotations

import gc
import mmap

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


def test_a_large_message_arrives_whole_and_its_file_is_gone(tmp_path):
    message = chunk_message()
    packed = wire.encode(message, tmp_path)
    assert packed[0] == "file", "a 6 MB message should travel through a file, not the socket"
    received = wire.decode(packed)
    for part in ("trace", "weights"):
        for name, value in message[part].items():
            np.testing.assert_array_equal(received[part][name], value, err_msg=f"{part} {name}")
    assert not list(tmp_path.iterdir()), "the message's file was left behind after decoding"


def test_a_small_message_goes_through_the_socket(tmp_path):
    packed = wire.encode({"weights": {"wh": np.ones((2, 3))}}, tmp_path)
    assert packed[0] == "inline"
    assert not list(tmp_path.iterdir())


def test_small_arrays_do_not_keep_a_large_messages_mapping_alive(tmp_path):
    received = wire.decode(wire.encode(chunk_message(), tmp_path))
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
    packed = wire.encode(message, tmp_path / "no such folder")
    assert packed[0] == "inline"
    np.testing.assert_array_equal(
        wire.decode(packed)["trace"]["hidden_layer_input"],
        message["trace"]["hidden_layer_input"],
    )
