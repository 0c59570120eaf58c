"""How requests and replies travel between the supervisor and a worker.

Small messages are pickled onto the socket. A message carrying large arrays (a
chunk of trace: 5 MB an epoch on the scale case) is pickled with protocol 5's
out-of-band buffers (PEP 574): only the pickle's skeleton crosses the socket,
with where each array's bytes are; the reader maps them and builds numpy's
arrays on the mapped pages, without a copy. Arrays under KEEP_MAPPED_BYTES (a
weight, a chunk's output layer) are copied out as they are read, so that none keeps a
mapping alive; they lie in the same file as the large ones, not in the skeleton. Sent
inline, the scale case's were 330 KB a chunk, more than a socket holds (208 KB by
default), and R's worker waited in send() for the supervisor to finish comparing the
chunk before: 0.3 s of a 4 s run with lockstep (docs/benchmarks.md).

Where the bytes are (all in the run's folder, in /dev/shm where there is one):

- A worker's replies go into its **slots** (``Arena``): a few files of memory it
  keeps mapped for the whole run and fills again once the supervisor has let go
  of what they held. The supervisor maps each reply's region on its own, and
  when the last array on it is gone (``weakref.finalize``), the slot is free: the
  next request to that worker says so (``released``), and only then does the
  worker write there again. A slot still held is never written: the worker takes
  another, and past MAX_SLOTS a file of its own for that reply. An R port copies
  its chunk out of R straight into a slot (``Arena.place``): sent from there.
- A reply's arrays sent on to another worker (Python's chunk to R's lockstep) are
  not copied again: the message names the same region of the same slot, which
  stays held until the supervisor's own arrays on it are gone, after R's reply.
- Anything else large (the supervisor's own arrays) goes into a file of its own,
  which the reader maps and unlinks at once: gone whatever happens next.

Measured, 16 MiB (a scale chunk), in one process: a new file written, mapped,
read and unmapped 13 ms; a slot written, its region mapped, read and unmapped
3.8 ms (docs/benchmarks.md). Before files, the socket: reading 1 GB of replies
cost the supervisor 2.5 s.

A worker's reply is read as data, never as code: the supervisor unpickles it with ``loads``,
which builds only the builtin containers and scalars, numpy's arrays and dtypes, and
nnparity's own reply classes (``READABLE``). A pickle can name any class or function to
call (a str subclass among a trace's names, whose ``__reduce__`` returns ``exec``): a port
cannot make the supervisor run its code that way, and every file a message names must lie
in the run's folder (a "once" file is unlinked once read).

Every reader's mapping is private (copy on write): an array the reader changes
never changes the slot. A slot's file is given its pages when it is made
(posix_fallocate): a full /dev/shm is an error there, and the message goes
through the socket, never a SIGBUS later.
"""

from __future__ import annotations

import itertools
import mmap
import os
import pickle
import threading
import weakref
from pathlib import Path

import numpy as np

#: Messages whose arrays add up to less than this go through the socket whole.
INLINE_BYTES = 1 << 20
#: Arrays under this size are copied as they are read; larger ones stay mapped.
KEEP_MAPPED_BYTES = 1 << 16
#: The most slots a worker keeps; a reply finding them all held gets a file of its own. Three:
#: R's free-running chunk k and its lockstep values of chunk k are held while chunk k+1 is
#: written; Python's chunk k+1 is asked for once chunk k is let go of (traces._Runner.chunk).
MAX_SLOTS = 3
#: A free slot not taken for this many replies gives its memory back: the determinism
#: check's two replies hold two slots at the start, which a Python worker, writing each
#: chunk where the last one was, never needs again. R's worker with lockstep takes its three
#: in turn, every two or three replies: none stays idle that long.
IDLE_TAKES = 4
#: Where an array starts inside a slot: a multiple of this (a cache line).
ALIGN = 64
_count = itertools.count()


#: The only globals a worker's reply may name (module, name): numpy's array and dtype
#: reconstructors (numpy 2's module names, and numpy 1's), and the classes a worker's
#: reply holds besides numbers (cells.StepFailure in lockstep's values; cells.Unrecorded in an
#: R port's trace; cells.NotComputed in a script's, for a matrix its loop never assigns). The
#: builtin containers and scalars (dict, list, tuple, str, bytes, int, float,
#: bool, None) are pickle's own opcodes and name no global.
READABLE = frozenset({
    *((core, name) for core in ("numpy._core.multiarray", "numpy.core.multiarray")
      for name in ("_reconstruct", "scalar")),
    *((core, "_frombuffer") for core in ("numpy._core.numeric", "numpy.core.numeric")),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    *(("nnparity.cells", name) for name in ("StepFailure", "Unrecorded", "NotComputed")),
})


class Unreadable(pickle.UnpicklingError):
    """A message that is not data nnparity reads (it names another class or function, or a
    file outside the run's folder)."""


class _DataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in READABLE:
            raise Unreadable(
                f"it holds a {module}.{name}, where a reply holds numbers, names and numpy "
                "arrays only"
            )
        return super().find_class(module, name)


def loads(data, buffers=None):
    """Unpickle `data` as a reply of a worker's: data only (READABLE), never code."""
    import io

    return _DataUnpickler(io.BytesIO(data), buffers=buffers).load()


def _address(buffer) -> int:
    """Where a buffer's bytes start in this process's memory."""
    return np.frombuffer(buffer, dtype=np.uint8).__array_interface__["data"][0]


class _Mapped:
    """The regions of files this process has mapped for messages it read: address -> region,
    so that an array read from one can be sent on by naming the same region (encode)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.regions: dict[int, tuple[int, int, str, int]] = {}  # key: (start, size, path, offset)

    def add(self, mapping: mmap.mmap, path: str, offset: int) -> None:
        start = _address(mapping)
        key = id(mapping)
        with self.lock:
            self.regions[key] = (start, len(mapping), path, offset)
        weakref.finalize(mapping, self._drop, key).atexit = False

    def _drop(self, key: int) -> None:
        with self.lock:
            self.regions.pop(key, None)

    def find(self, buffer) -> tuple[str, int] | None:
        """(path, offset) of a buffer lying in a mapped region; None otherwise."""
        if not self.regions:
            return None
        at, size = _address(buffer), buffer.nbytes
        with self.lock:
            for start, length, path, offset in self.regions.values():
                if start <= at and at + size <= start + length:
                    return path, offset + (at - start)
        return None


_mapped = _Mapped()


class Slot:
    """A file of memory a worker writes its replies into, mapped for the whole run."""

    def __init__(self, number: int, path: Path, capacity: int):
        self.number, self.path, self.capacity = number, str(path), capacity
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.posix_fallocate(fd, 0, capacity)  # the pages now, or ENOSPC now
            self.mapping = mmap.mmap(fd, capacity)
        except BaseException:
            os.unlink(path)
            raise
        finally:
            os.close(fd)
        self.address = _address(self.mapping)
        self.held = False
        self.taken_at = 0  # the arena's count of takes when this slot was last taken

    def offset_of(self, buffer) -> int | None:
        """Where a buffer lies in this slot; None when it lies elsewhere."""
        at = _address(buffer) - self.address
        return at if 0 <= at and at + buffer.nbytes <= self.capacity else None


def _layout(sizes: list[int]) -> tuple[list[int], int]:
    """Offsets of consecutive buffers of these sizes, each ALIGNed, and where the last ends."""
    offsets, end = [], 0
    for size in sizes:
        offsets.append(end)
        end = -(-(end + size) // ALIGN) * ALIGN
    return offsets, end


class Arena:
    """A worker's slots (see the module's text). ``take`` one for a reply, or ``place`` a
    reply's arrays straight into one; ``release`` what the supervisor said it let go of."""

    def __init__(self, folder: Path | str):
        self.folder = Path(folder)
        self.slots: dict[int, Slot] = {}
        self.placed: list[Slot] = []  # slots holding arrays of the reply being made
        self._numbers = itertools.count()
        self.takes = 0

    def take(self, size: int) -> Slot | None:
        """A free slot of at least `size` bytes, now held; None when there is none to be had."""
        free = [s for s in self.slots.values() if not s.held and s.capacity >= size]
        if free:
            slot = min(free, key=lambda s: s.capacity)
        elif len(self.slots) < MAX_SLOTS:
            capacity = -(-size // (1 << 20)) << 20  # whole MiB: the next chunk may be larger
            number = next(self._numbers)
            try:
                slot = Slot(number, self.folder / f"{os.getpid()}-slot-{number}.bin", capacity)
            except (OSError, AttributeError):  # a full or small /dev/shm; no posix_fallocate
                return None
            self.slots[number] = slot
        else:
            return None
        self.takes += 1
        slot.held, slot.taken_at = True, self.takes
        return slot

    def place(self, shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
        """Empty double arrays of these shapes for the next reply, in one slot where they are
        large enough to travel in one (and a slot is free): written there, they are sent
        without another copy. Elsewhere, ordinary arrays."""
        sizes = [8 * int(np.prod(shape)) for shape in shapes]
        offsets, end = _layout(sizes)
        slot = self.take(end) if end >= INLINE_BYTES else None
        if slot is None:
            return [np.empty(shape) for shape in shapes]
        self.placed.append(slot)
        return [
            np.ndarray(shape, dtype=np.float64, buffer=slot.mapping, offset=offset)
            for shape, offset in zip(shapes, offsets, strict=True)
        ]

    def placed_at(self, buffer) -> tuple[Slot, int] | None:
        for slot in self.placed:
            offset = slot.offset_of(buffer)
            if offset is not None:
                return slot, offset
        return None

    def sent(self, used: list[Slot]) -> None:
        """A reply went: the slots it names stay held; any other slot placed for it is free."""
        for slot in self.placed:
            if slot not in used:
                slot.held = False
        self.placed = []

    def release(self, numbers) -> None:
        """The supervisor let go of these slots. A free slot idle for IDLE_TAKES replies
        gives its memory back."""
        for number in numbers:
            if number in self.slots:
                self.slots[number].held = False
        idle = [s for s in self.slots.values()
                if not s.held and self.takes - s.taken_at >= IDLE_TAKES]
        for slot in idle:
            try:
                slot.mapping.close()  # BufferError: an array of this process still uses it
            except BufferError:
                continue
            os.unlink(slot.path)
            del self.slots[slot.number]


def encode(message, arena: Arena | None = None, folder: Path | str | None = None):
    """A message for Connection.send: ("inline", message), or ("parts", skeleton, parts, slots).

    Each part is ("bytes", data) or (how, path, offset, size, copied) where how is "slot" (a
    region of a file that stays: a slot) or "once" (a file of this message's own, to be
    unlinked), and `copied` says the reader copies it out (under KEEP_MAPPED_BYTES).
    `slots` lists (number, path) of the sender's slots the message holds. A worker's arena
    learns which of its placed slots the message holds (Arena.sent).
    """
    used: list[Slot] = []
    try:
        packed = _encode(message, arena, folder, used)
    except BaseException:
        used.clear()
        raise
    finally:
        if arena is not None:
            arena.sent(used)
    return packed


def _encode(message, arena, folder, used: list[Slot]):
    if arena is None and folder is None:
        return ("inline", message)
    buffers: list[pickle.PickleBuffer] = []
    skeleton = pickle.dumps(message, protocol=5, buffer_callback=buffers.append)
    raws = [buffer.raw() for buffer in buffers]
    where: list = [None] * len(raws)  # ("slot", path, offset) of a buffer already in a file
    for i, raw in enumerate(raws):
        # Only the supervisor sends on what it read: it holds its own arrays on that region
        # until the receiver has replied. A worker never does (the supervisor would not know
        # to keep the other worker's slot held for as long as its reply lives).
        if arena is None:
            if raw.nbytes >= KEEP_MAPPED_BYTES:
                where[i] = _mapped.find(raw)
            continue
        placed = arena.placed_at(raw)  # small ones too: read from there, copied (decode)
        if placed is not None:
            slot, offset = placed
            where[i] = (slot.path, offset)
            if slot not in used:
                used.append(slot)
    if not any(where) and sum(raw.nbytes for raw in raws) < INLINE_BYTES:
        return ("inline", message)
    unplaced = [i for i, w in enumerate(where) if w is None]
    # A large array not in a file yet is written into one; the small ones then go in it too,
    # not in the skeleton. Else they all travel in the skeleton.
    written = unplaced if any(raws[i].nbytes >= KEEP_MAPPED_BYTES for i in unplaced) else []
    offsets, end = _layout([raws[i].nbytes for i in written])
    offsets = dict(zip(written, offsets, strict=True))
    slot = arena.take(end) if (arena is not None and written) else None
    if slot is not None:
        used.append(slot)
        how, path, target = "slot", slot.path, slot.mapping
    elif written:
        how, path, target = "once", _once_file(folder), None
        if path is None:
            used.clear()
            return ("inline", message)
    parts = []
    try:
        for i, raw in enumerate(raws):
            copied = raw.nbytes < KEEP_MAPPED_BYTES  # read out of the file (decode): a copy
            if where[i] is not None:
                parts.append(("slot", *where[i], raw.nbytes, copied))
            elif i not in offsets:
                parts.append(("bytes", bytes(raw)))
            else:
                if target is not None:
                    target[offsets[i] : offsets[i] + raw.nbytes] = raw
                parts.append((how, path, offsets[i], raw.nbytes, copied))
        if written and target is None:
            _write_once(path, [(offsets[i], raws[i]) for i in written])
    except OSError:  # a full /dev/shm while writing a file of its own: the socket carries it
        if written and target is None:
            Path(path).unlink(missing_ok=True)
        used.clear()
        return ("inline", message)
    return ("parts", skeleton, parts, [(slot.number, slot.path) for slot in used])


def _once_file(folder) -> str | None:
    if folder is None:
        return None
    return str(Path(folder) / f"{os.getpid()}-{next(_count)}.bin")


def _write_once(path: str, pieces) -> None:
    with open(path, "wb") as out:
        for offset, raw in pieces:
            out.seek(offset)
            out.write(raw)


def decode(packed, released=None, reply_of: str | Path | None | bool = False):
    """The message encode() packed, its arrays built on mapped pages.

    ``released(number)`` is called once the last array on a slot of the sender's is gone
    (from whichever thread drops it): the supervisor tells the worker (supervise.py).
    ``reply_of``: the run's folder (None when it has none) when `packed` is a worker's reply,
    read by the supervisor: unpickled as data only (``loads``), and a file it names outside
    that folder is refused, never opened nor unlinked.
    """
    reply = reply_of is not False
    unpickle = loads if reply else pickle.loads
    if packed[0] == "inline":
        return packed[1]
    _, skeleton, parts, slots = packed
    held = {path: number for number, path in slots}
    files: dict[str, list] = {}  # path -> [how, first byte, end]
    for part in parts:
        if part[0] != "bytes":
            how, path, offset, size, _ = part
            if reply and (reply_of is None or how not in ("slot", "once")
                          or Path(path).parent != Path(reply_of)):
                raise Unreadable(f"it names a file outside the run's folder: {path}")
            _, low, high = files.setdefault(path, [how, offset, offset + size])
            files[path] = [how, min(low, offset), max(high, offset + size)]
    views = {}
    for path, (how, low, high) in files.items():
        start = low - low % mmap.ALLOCATIONGRANULARITY
        with open(path, "rb") as handle:
            mapping = mmap.mmap(
                handle.fileno(), high - start, access=mmap.ACCESS_COPY, offset=start
            )
        if how == "once":
            os.unlink(path)
        else:
            _mapped.add(mapping, path, start)
            if path in held and released is not None:
                weakref.finalize(mapping, released, held[path]).atexit = False
        views[path] = (memoryview(mapping), start)
    buffers = []
    for part in parts:
        if part[0] == "bytes":
            buffers.append(bytearray(part[1]))
            continue
        _, path, offset, size, copied = part
        view, start = views[path]
        region = view[offset - start : offset - start + size]
        buffers.append(bytearray(region) if copied else region)
    views = None
    return unpickle(skeleton, buffers=buffers)


def run_folder() -> str:
    """A folder for one run's large messages: in memory (/dev/shm) where there is one.

    Its name carries the supervisor's process id. A supervisor killed outright (SIGKILL)
    cannot remove its folder, and the slots in it hold memory until the machine restarts: a
    new run removes the folders of supervisors that are gone (``_remove_stale``).
    """
    import tempfile

    shm = "/dev/shm"
    base = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else tempfile.gettempdir()
    _remove_stale(Path(base))
    return tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-", dir=base)


#: How a run's folder is named: this, the supervisor's process id, a dash, random letters.
FOLDER_PREFIX = "nnparity-wire-"


def _remove_stale(base: Path) -> None:
    """Remove the run folders in `base` whose supervisor is no longer running (ours only)."""
    import shutil

    try:
        folders = list(base.glob(f"{FOLDER_PREFIX}*-*"))
    except OSError:
        return
    for folder in folders:
        pid = folder.name.removeprefix(FOLDER_PREFIX).split("-", 1)[0]
        if not pid.isdigit() or _running(int(pid)):
            continue
        try:
            if folder.stat().st_uid != os.getuid():
                continue
        except OSError:
            continue
        shutil.rmtree(folder, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
