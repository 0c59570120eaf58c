"""Outputs that are whole or absent: every file and folder nnparity writes goes through here.

An output is written beside its target (same folder, so the final rename
cannot cross file systems) and renamed into place only when complete; on any
failure, or a signal, the staging copy is removed and the target is as it was.
A target given as a symbolic link is followed: the link stays, and what it
points to is written (a link to nothing is refused).

Nothing that exists at a target is replaced unless nnparity can tell it is its
own earlier output of the same kind; anything else is refused, never replaced
or emptied. A file output says how it recognises its own (``check_file``'s
``ours``: the statistics' columns; the workbook's seal, a digest of its parts as
nnparity wrote them). A folder output is
replaced whole, so it holds exactly what one run wrote, and only when it is
empty or its MANIFEST, written last by the run that made it, records
everything in it, unchanged. A case folder is the one exception (``replaces``):
its files are nnparity's by name, what the user put beside them, such as a
walkthrough, is copied into the new folder, and the old folder is removed only
once the new one is in place. The current folder, or a folder holding it, is never
a folder output (replacing it would leave the shell in a removed folder); a replaced
folder keeps its permissions.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .oneline import one_line


class OutputError(OSError):
    """An output that cannot be written where asked: one line naming the path and the reason."""


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def current_umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def followed(target: Path | str, what: str) -> Path:
    """The absolute path an output is written to: a symbolic link followed (the link stays);
    OutputError for a link that points to nothing."""
    path = Path(target).absolute()
    if ".." in path.parts:  # "..", "out/..": the folder the file system means, named as such
        path = path.resolve() if path.name == ".." else path.parent.resolve() / path.name
    if not path.is_symlink():
        return path
    if not path.exists():
        raise OutputError(f"{target}: is a dangling symbolic link; give another path for {what}")
    return path.resolve()


def check_file(target: Path | str, what: str, ours: Callable[[Path], bool | str]) -> Path:
    """A file output's target, checked before the work starts; returns the path to write.

    It may be new, or a regular file ``ours`` recognises as nnparity's own earlier
    ``what`` (``ours`` answers True; False, or the reason it is not, refuses it); anything
    else there (the user's file, a device, a pipe) is refused with one line (OutputError),
    as is a folder or a missing parent folder.
    """
    path = followed(target, what)
    if path.is_dir():
        raise OutputError(f"{target}: is a folder; give a file name for {what}")
    if path.exists():
        if not path.is_file():
            raise OutputError(
                f"{target}: is not a regular file (a device, a pipe or a socket); give a new "
                f"file name for {what} (nothing was changed)"
            )
        answer = ours(path)
        if answer is not True:
            why = answer if isinstance(answer, str) else (
                "exists and is not a file nnparity wrote (it replaces only its own earlier output)"
            )
            raise OutputError(
                f"{target}: {why}; give a new name or move the file away (nothing was changed)"
            )
    if not path.parent.is_dir():
        raise OutputError(f"{target}: {_no_folder(path.parent)}")
    return path


def _mode_for(target: Path) -> int:
    """The permissions of a file output: a replaced file's own, or what open() would give."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        return 0o666 & ~current_umask()


def _no_folder(folder: Path) -> str:
    """Why `folder` is no folder to write in: it, or the first of its parents that exists, is a
    file; or it does not exist."""
    found = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if found is not None and not found.is_dir():
        return f"{found} is a file, not a folder"
    return f"the folder {folder} does not exist"


class StagedFile:
    """A file output written beside its target (``tmp``), moved in by ``commit``; ``abort``
    removes it. ``staged_file`` is its usual form; a command with two outputs stages both,
    then moves both, so that one that cannot be written leaves the other as it was."""

    def __init__(self, target: Path | str):
        self.target = followed(target, "the file")
        try:
            handle, name = tempfile.mkstemp(
                prefix=f".{self.target.name}.", suffix=f".partial{self.target.suffix}",
                dir=self.target.parent,
            )
            os.close(handle)
        except OSError as error:
            raise OutputError(f"{self.target}: cannot be written ({_reason(error)})") from None
        self.tmp: Path | None = Path(name)

    @contextmanager
    def writing(self) -> Iterator[Path]:
        """``with staged.writing() as tmp:`` write tmp; on any failure it is removed (a full
        disk: OutputError naming the target)."""
        try:
            yield self.tmp
        except BaseException as error:
            self.abort()
            if isinstance(error, OSError) and not isinstance(error, OutputError):
                raise OutputError(
                    f"{self.target}: cannot be written ({_reason(error)})"
                ) from None
            raise

    def commit(self) -> Path:
        try:
            os.chmod(self.tmp, _mode_for(self.target))  # mkstemp makes it private
            os.replace(self.tmp, self.target)
        except OSError as error:
            self.abort()
            raise OutputError(f"{self.target}: cannot be written ({_reason(error)})") from None
        self.tmp = None
        return self.target

    def abort(self) -> None:
        if self.tmp is not None:
            self.tmp.unlink(missing_ok=True)
            self.tmp = None


@contextmanager
def staged_file(target: Path | str) -> Iterator[Path]:
    """``with staged_file(path) as tmp:`` write tmp; it becomes ``path`` when the block ends.

    The one atomic file writer: statistics, trace descriptions, .rds traces and
    workbooks all go through it (``StagedFile``). A new file gets the permissions open()
    would give, a replaced one keeps its own; a link is followed (``followed``). Check a
    user's target first (``check_file``).
    """
    staged = StagedFile(target)
    with staged.writing():
        yield staged.tmp
    staged.commit()


#: The record nnparity writes last into each folder it replaces whole (traces, report):
#: every other entry's path, a file's with its size and modification time (in ns). An
#: existing folder is nnparity's, to replace, only when it holds exactly what its manifest
#: records, unchanged: every entry there, nothing missing, nothing more, and no mount point
#: (another file system mounted inside is never nnparity's, whatever it holds). A folder
#: written by an nnparity older than the manifest has none.
MANIFEST = ".nnparity-manifest.json"
MANIFEST_FORMAT = "nnparity output manifest"


def _raise(error: OSError) -> None:
    raise error


def _mount_points() -> set[str]:
    """Where file systems are mounted (Linux's /proc/self/mountinfo; elsewhere none known)."""
    try:
        with open("/proc/self/mountinfo", "rb") as table:
            lines = table.read().decode(errors="surrogateescape").splitlines()
    except OSError:
        return set()
    # the fifth field, with space, tab, newline and backslash escaped as \ooo
    unescape = {"\\040": " ", "\\011": "\t", "\\012": "\n", "\\134": "\\"}
    points = set()
    for line in lines:
        fields = line.split(" ")
        if len(fields) > 4:
            point = fields[4]
            for escaped, char in unescape.items():
                point = point.replace(escaped, char)
            points.add(point)
    return points


def entries(folder: Path) -> dict[str, object]:
    """What a manifest records of ``folder``: relative path -> a file's size and mtime_ns,
    "folder", or "other" (a link, a device, a mount point: never nnparity's). The manifest
    is left out."""
    found: dict[str, object] = {}
    device, mounts = folder.stat().st_dev, _mount_points()
    for top, folders, files in os.walk(folder, onerror=_raise):  # links are not descended
        for name in folders + files:
            path = Path(top, name)
            info = path.lstat()
            if info.st_dev != device or str(path) in mounts:  # another file system
                entry: object = "other"
                folders[:] = [f for f in folders if f != name]  # not walked into
            elif stat.S_ISREG(info.st_mode):
                entry = {"size": info.st_size, "mtime_ns": info.st_mtime_ns}
            else:
                entry = "folder" if stat.S_ISDIR(info.st_mode) else "other"
            found[path.relative_to(folder).as_posix()] = entry
    found.pop(MANIFEST, None)
    return found


def recorded(folder: Path) -> dict | None:
    """``folder``'s manifest: what it holds ("what") and its "entries"; None without one."""
    manifest = folder / MANIFEST
    if manifest.is_symlink() or not manifest.is_file():
        return None
    try:
        record = json.loads(manifest.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(record, dict) or record.get("format") != MANIFEST_FORMAT:
        return None
    return record if isinstance(record.get("entries"), dict) else None


def _listed(paths: list[str]) -> str:
    """The first few paths, leaving out those inside another: a folder, not each file in it."""
    chosen = set(paths)
    named = [p for p in paths if not any(up.as_posix() in chosen for up in Path(p).parents)]
    return ", ".join(named[:3]) + (", ..." if len(named) > 3 else "")


class StagedFolder:
    """A folder output: checked now, written into ``staging``, moved into place by ``commit``.

    An existing target is replaced whole, and only when it is empty or nnparity's own
    (its MANIFEST records everything in it, unchanged); anything else is refused. With
    ``replaces`` (a case folder) only the plain files so named (glob patterns) are
    nnparity's: they are replaced, and whatever else is there is the user's and is copied
    into the new folder on commit. Check before the work starts (the constructor does),
    so a run that cannot save its output does not run at all.
    """

    def __init__(self, target: Path | str, what: str, replaces: tuple[str, ...] = ()):
        # absolute now, so a port's setwd() cannot move it; a link is followed
        self.target = followed(target, what)
        self.what, self.replaces = what, replaces
        self.staging: Path | None = None
        self._made: list[Path] = []
        self.check()

    def check(self) -> None:
        t = self.target
        try:
            here = Path.cwd()
        except OSError:  # the current folder was removed: nothing to keep it in
            here = None
        if here is not None and here.is_relative_to(t.resolve()):
            where = "is the current folder" if here == t.resolve() else "holds the current folder"
            raise OutputError(
                f"{t}: {where}, which nnparity would replace whole; give another folder for "
                f"{self.what} (nothing was changed)"
            )
        if t.exists():
            if not t.is_dir():
                raise OutputError(
                    f"{t}: exists and is not a folder; give a new or empty folder for {self.what}"
                )
            if os.path.ismount(t):  # found here, not after the run when it is to be replaced
                raise OutputError(
                    f"{t}: is a mount point, which nnparity cannot replace (it writes a new "
                    f"folder beside it and renames it); give a folder inside it for {self.what} "
                    "(nothing was changed)"
                )
            try:
                refused = self._not_ours()
            except OSError as error:
                raise OutputError(f"{t}: cannot be read ({_reason(error)})") from None
            if refused:
                raise OutputError(
                    f"{t}: {refused}; give a new or empty folder for {self.what} "
                    "(nothing was changed)"
                )
        parent = self._existing_parent()
        try:  # the one sure test that a folder can be written: write in it
            probe = Path(tempfile.mkdtemp(prefix=".nnparity-probe.", dir=parent))
            probe.rmdir()
        except OSError as error:
            raise OutputError(f"{t}: cannot be written ({_reason(error)} in {parent})") from None

    def _not_ours(self) -> str | None:
        """Why the existing target is not nnparity's to replace; None when it is."""
        if self.replaces:  # the user's files are kept; one named as ours must be a plain file
            foreign = sorted(p.name for p in self.target.iterdir()
                             if self._named_ours(p.name) and not self.is_ours(p))
            return f"holds files nnparity did not write ({_listed(foreign)})" if foreign else None
        found, record = entries(self.target), recorded(self.target)
        if not found:
            return None
        if record is None:
            return (
                f"holds files nnparity did not write ({_listed(sorted(found))}) and no "
                f"{MANIFEST}, nnparity's record of what it wrote there (a folder written by "
                "an nnparity older than that record has none)"
            )
        if record.get("what") != self.what:
            return f"holds {record.get('what')} nnparity wrote, not {self.what}"
        wrote = record["entries"]
        changed = sorted(p for p in found.keys() | wrote.keys() if found.get(p) != wrote.get(p))
        if changed:
            return (
                "holds files nnparity did not write, or that changed or went missing since "
                f"({_listed(changed)}; its manifest records each file's size and time, which "
                "a copy keeps with cp -a, not cp -r)"
            )
        return None

    def is_ours(self, path: Path) -> bool:
        """With ``replaces``: a plain file named as nnparity names them."""
        return not path.is_symlink() and path.is_file() and self._named_ours(path.name)

    def _named_ours(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.replaces)

    def _existing_parent(self) -> Path:
        parent = self.target.parent
        while not parent.exists():
            parent = parent.parent
        return parent

    def open(self) -> Path:
        """Make the staging folder (and any missing parent of the target) and return it."""
        try:
            missing = []
            parent = self.target.parent
            while not parent.exists():
                missing.append(parent)
                parent = parent.parent
            for folder in reversed(missing):
                folder.mkdir()
                self._made.append(folder)
            self.staging = Path(
                tempfile.mkdtemp(
                    prefix=f".{self.target.name}.", suffix=".partial", dir=self.target.parent
                )
            )
        except OSError as error:
            self.abort()
            raise OutputError(f"{self.target}: cannot be written ({_reason(error)})") from None
        return self.staging

    def commit(self) -> Path:
        """Move the staging folder into place, replacing an earlier output of nnparity whole.

        A replaced folder's permissions (and owner, where that may be set) carry over."""
        self._keep_permissions()
        if not self.replaces:
            self._write_manifest()
        if self.target.exists():
            self.check()  # still ours: nothing was added to it meanwhile
            if self.replaces:
                self._copy_others()
            old = Path(
                tempfile.mkdtemp(
                    prefix=f".{self.target.name}.", suffix=".old", dir=self.target.parent
                )
            )
            try:
                os.replace(self.target, old / "old")
            except OSError:  # a mount point, say: the target stays as it was, nothing beside it
                old.rmdir()
                raise
            try:
                os.replace(self.staging, self.target)
            except OSError:
                os.replace(old / "old", self.target)
                old.rmdir()
                raise
            self._remove(old)
        else:
            os.replace(self.staging, self.target)
        self.staging, self._made = None, []
        return self.target

    def _keep_permissions(self) -> None:
        """The staging folder gets the target's mode and owner (a new one: 0755, ours)."""
        try:
            was = self.target.stat() if self.target.is_dir() else None
        except OSError:
            was = None
        if was is not None:
            try:
                os.chown(self.staging, was.st_uid, was.st_gid)
            except OSError:  # another user's folder, not root: the mode still carries over
                pass
        os.chmod(self.staging, stat.S_IMODE(was.st_mode) if was is not None else 0o755)

    def _remove(self, old: Path) -> None:
        """Remove the earlier output, moved aside into ``old``; one line on stderr when some of
        it cannot be removed, naming where the rest is (never left behind unsaid)."""
        failed: list[str] = []
        shutil.rmtree(old, onerror=lambda _f, path, info: failed.append(
            f"{path}: {_reason(info[1]) if isinstance(info[1], OSError) else info[1]}"))
        if failed:
            _say(
                f"{self.target}: written, but the earlier {self.what} it replaced could not be "
                f"removed entirely ({failed[0]}); what is left of it is in {old}"
            )

    def _write_manifest(self) -> None:
        """The staging folder's MANIFEST, written last: everything else in it is complete."""
        record = {"format": MANIFEST_FORMAT, "what": self.what, "entries": entries(self.staging)}
        (self.staging / MANIFEST).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        os.chmod(self.staging / MANIFEST, 0o666 & ~current_umask())

    def _copy_others(self) -> None:
        """Copy what the user keeps in the target (not ours, not written now) into staging."""
        for path in self.target.iterdir():
            copy = self.staging / path.name
            if self.is_ours(path) or copy.exists() or copy.is_symlink():
                continue
            if path.is_symlink():
                os.symlink(os.readlink(path), copy)
            elif path.is_dir():
                shutil.copytree(path, copy, symlinks=True)
            else:
                shutil.copy2(path, copy)

    def abort(self) -> None:
        """Remove what this output made: the staging folder and any parent folder it created."""
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None
        for folder in reversed(self._made):
            try:
                folder.rmdir()
            except OSError:
                pass
        self._made = []

    def __enter__(self) -> Path:
        return self.open()

    def __exit__(self, kind, error, tb) -> None:
        if kind is None:
            try:
                self.commit()
            except BaseException:  # the move failed: the staging folder goes too
                self.abort()
                raise
        else:
            self.abort()


def _say(message: str) -> None:
    """One line on stderr, for what happened beside an output that was written."""
    try:
        print(f"nnparity: {one_line(message)}", file=sys.stderr, flush=True)
    except (OSError, ValueError, AttributeError):  # stderr closed or gone
        pass


def size_text(n: float) -> str:
    """Bytes for a person: 68 kB, 1.4 GB."""
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} PB"
