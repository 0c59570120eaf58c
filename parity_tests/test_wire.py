"""How large messages travel between the supervisor and a worker (nnparity/wire.py)."""

from __future__ import annotations

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
