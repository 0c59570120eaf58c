"""How requests and replies travel between the supervisor and a worker.

Small messages are pickled onto the socket. A message carrying large arrays (a
chunk of trace: 5 MB an epoch on the scale case) is pickled with protocol 5's
out-of-band buffers (PEP 574): the arrays' bytes go into one file in a folder
of the run (in /dev/shm, memory, where there is one), and only the pickle's
skeleton and the file's name cross the socket. The reader maps the file
copy-on-write and unlinks it at once, so numpy's arrays are built on the mapped
pages without a copy, and the file is gone whatever happens next. Measured on
the scale case (100 epochs, free-running): reading 1 GB of replies off the
socket cost the supervisor 2.5 s (socket reads into a BytesIO).
"""

from __future__ import annotations

import itertools
import mmap
import os
import pickle
from pathlib import Path

#: Messages whose arrays add up to less than this go through the socket whole.
INLINE_BYTES = 1 << 20
#: Arrays of at least this size stay views of the mapped file; smaller ones are copied.
KEEP_MAPPED_BYTES = 1 << 16
_count = itertools.count()


def encode(message, folder: Path | str | None):
    """A message for Connection.send: ("inline", message) or ("file", skeleton, path, sizes)."""
    if folder is None:
        return ("inline", message)
    buffers: list[pickle.PickleBuffer] = []
    skeleton = pickle.dumps(message, protocol=5, buffer_callback=buffers.append)
    sizes = [buffer.raw().nbytes for buffer in buffers]
    if sum(sizes) < INLINE_BYTES:
        return ("inline", message)
    path = Path(folder) / f"{os.getpid()}-{next(_count)}.bin"
    try:
        with open(path, "wb") as out:
            for buffer in buffers:
                out.write(buffer.raw())
    except OSError:  # a full or small /dev/shm (a container's is often 64 MB): the socket
        path.unlink(missing_ok=True)  # carries every message, only more slowly
        return ("inline", message)
    return ("file", skeleton, str(path), sizes)


def decode(packed):
    """The message encode() packed; a file's pages are mapped, then the file is unlinked."""
    if packed[0] == "inline":
        return packed[1]
    _, skeleton, path, sizes = packed
    with open(path, "rb") as handle:
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_COPY) if sum(sizes) else b""
    os.unlink(path)
    view, buffers, at = memoryview(mapped), [], 0
    for size in sizes:
        # A small array (a weight, a returned matrix) is copied out: a view would keep the
        # whole chunk's mapping alive for as long as the run keeps that array.
        part = view[at : at + size]
        buffers.append(part if size >= KEEP_MAPPED_BYTES else bytearray(part))
        at += size
    return pickle.loads(skeleton, buffers=buffers)


def run_folder() -> str:
    """A folder for one run's large messages: in memory (/dev/shm) where there is one."""
    import tempfile

    shm = "/dev/shm"
    base = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
    return tempfile.mkdtemp(prefix="nnparity-wire-", dir=base)
