"""The R transport: one embedded R per process, reached through rpy2.

Only a transport: R errors become PortError where they are raised, and the
R port (r_port.py) says which port and what it was doing. Arrays cross through
rpy2's numpy2ri converter in a local converter context.
"""

from __future__ import annotations

import importlib
import os
import shutil
import signal
import sys
import threading
import types
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import installation, signals
from .paths import HARNESS_R
from .port import PortError


class RUnavailable(RuntimeError):
    """R, or an rpy2 that loads with it, cannot be had in this process."""


@lru_cache(maxsize=1)
def r():
    """The embedded R, started once per process, with harness.R sourced."""
    _check_r_is_there()
    # Starting R rewrites this process's LD_LIBRARY_PATH with R's own folders first
    # ($R_HOME/etc/ldpaths); every process started after it (the ports' workers, an
    # Rscript) would then load the system's libblas.so.3, not the one the user chose
    # for this process (docs/blas.md). This process's loader read it at start-up: the
    # user's value is put back.
    library_path = os.environ.get("LD_LIBRARY_PATH")
    handlers = _signal_handlers()
    try:
        _skip_rpy2s_library_path_question()
        _defer_rpy2s_help()
        import rpy2.robjects as robjects
        from rpy2.rinterface_lib import callbacks
        from rpy2.robjects import numpy2ri
    except Exception as error:  # ImportError, or R failing to initialise inside rpy2
        raise RUnavailable(_why_rpy2_does_not_load(error)) from None
    # rpy2 gives SIGINT back to Python's default handler as R starts, and R may take
    # signals over: a supervisor that starts R (a script's plan is read in R) keeps its own
    # (signals.py), or a Ctrl-C after that would not stop it.
    for number, handler in handlers.items():
        signal.signal(number, handler)
    if library_path is None:
        os.environ.pop("LD_LIBRARY_PATH", None)
    else:
        os.environ["LD_LIBRARY_PATH"] = library_path
    # R's echo of an error ("Error in ...", written through the console) would add
    # lines to every failure, whose message reaches Python as an RRuntimeError
    # anyway: what R writes to its error stream is held until the call ends, and
    # passed on to stderr only when the call succeeded (a port's message()s).
    callbacks.consolewrite_warnerror = _held.append
    callbacks.consolewrite_print = lambda text: sys.stderr.write(
        text
    )  # a port's print() goes to stderr
    _HARNESS[:] = [robjects.r("new.env(parent = parent.env(globalenv()))")]
    _source_into(robjects, _HARNESS[0], HARNESS_R)
    return robjects, robjects.default_converter + numpy2ri.converter


#: The R environment holding harness.R's functions (and script.R's, once sourced): set by
#: ``r()``. Its parent is the search path below R's global environment, so a port's global
#: names (`lockstep <<- ...` at the top of a port file, a helper of the same name as one of
#: the harness's) neither replace nor shadow the harness's own: a port that replaced
#: `lockstep` in the global environment made a wrong step pass lockstep.
_HARNESS: list = []


def harness():
    """The R environment of the harness's functions (``_HARNESS``)."""
    r()
    return _HARNESS[0]


def source_harness(path) -> None:
    """Source one of nnparity's R files into the harness's environment, its functions locked
    there (a port reaching the environment by its frames cannot assign over them)."""
    _source_into(r()[0], harness(), path)


def _source_into(robjects, env, path) -> None:
    robjects.r["sys.source"](str(path), envir=env, keep_source=False)
    robjects.r(
        "function(env) for (name in ls(env, all.names = TRUE)) "
        "if (is.function(env[[name]])) lockBinding(name, env)"
    )(env)


def interpret_harness() -> None:
    """Leave harness.R's own functions to R's interpreter, the port's code to its JIT compiler
    (harness.R, as_port_runs): for an R that runs nothing but the harness and one port (a
    worker). Compiling the harness on its first calls cost an R worker's start ~45 ms."""
    harness()["nnparity_interpret_harness"]()


def _check_r_is_there() -> None:
    """R on PATH, or in R_HOME: else one sentence saying how to get it (RUnavailable)."""
    home = os.environ.get("R_HOME")
    lacks = installation.r_home_lacks(home) if home else None
    home_has_r = bool(home) and lacks != Path(home, "bin", "R")
    if shutil.which("R") is None and not home_has_r:
        where = f" and R_HOME={home} holds no bin/R" if home else " and no R_HOME"
        raise RUnavailable(
            f"R is not installed (no `R` on PATH{where}): {installation.r_fix()}."
        )
    if lacks is not None:
        # rpy2 would start R there anyway, and R would end the process with
        # "Fatal error: unable to open the base package", or rpy2 fail to load libR.so.
        raise RUnavailable(
            f"R_HOME={home} is not an R home (no {lacks}): {installation.unset_r_home()}."
        )


def _why_rpy2_does_not_load(error: Exception) -> str:
    """The one sentence for an rpy2 that did not load: R_HOME that is no R home, or rpy2's
    error and the fix, as doctor gives them (R is asked only now, on the way out)."""
    home = os.environ.get("R_HOME")
    r, _ = installation.find_r()
    facts = installation.r_facts(r) if r else {}
    wrong = installation.not_an_r_home(home, facts) if home else None
    if wrong:
        return f"{wrong}: {installation.unset_r_home()}."
    first = str(error).splitlines()[0] if str(error) else ""
    return installation.rpy2_not_loading(f"{type(error).__name__}: {first}", facts) + "."


def _signal_handlers() -> dict:
    """This process's handlers of the signals that stop a run (in the main thread, their home)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    stops = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    return {number: signal.getsignal(number) for number in stops if signal.getsignal(number)}


def _skip_rpy2s_library_path_question() -> None:
    """Spare rpy2 the `Rscript` it runs, as it is imported, to learn R's LD_LIBRARY_PATH.

    rpy2 (3.5, and 3.6's rpy2-rinterface alike: openrlib asks, embedded.py puts
    the answer into this process's environment just before R starts) sets it
    where it is too late for this process's loader (rpy2 says so itself), and
    r() puts the user's value back as soon as R has started (above): the answer
    is never used. Asking costs the start of a whole R, 0.15 s of an R worker's
    0.65 s start on a quiet machine and 0.6 s under load (docs/benchmarks.md).
    Which rpy2 is installed is not asked (importlib.metadata: 15-20 ms of an R
    worker's start): an rpy2 without the question is left as it is.
    """
    if "rpy2.rinterface_lib.openrlib" not in sys.modules:
        import rpy2.situation

        if hasattr(rpy2.situation, "r_ld_library_path_from_subprocess"):
            rpy2.situation.r_ld_library_path_from_subprocess = lambda r_home: ""


def _defer_rpy2s_help() -> None:
    """Leave rpy2's help module (R's documentation, for docstrings) unloaded until it is used.

    Imported with `rpy2.robjects`, it runs R's `require(tools)`: the R of every run then
    had the tools package attached, which `Rscript` does not, so a port calling, say,
    `file_path_sans_ext()` without `tools::` ran here and failed under `Rscript`. It also
    cost 15-18 ms of an R worker's start. rpy2's modules import it by name and read it
    only inside functions (an R function's docstring): a stand-in takes its name, and
    the first name read from it imports rpy2's own (PEP 562's module ``__getattr__``).
    (``importlib.util.LazyLoader`` does not do here: the import statements that name the
    module read its ``__spec__``, which loads it.)
    """
    name = "rpy2.robjects.help"
    if name in sys.modules or "rpy2.robjects" in sys.modules:
        return
    stand_in = types.ModuleType(name, "rpy2's help module, imported on first use")

    def real(attribute: str):
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]
        return getattr(importlib.import_module(name), attribute)

    stand_in.__getattr__ = real
    sys.modules[name] = stand_in


_held: list[str] = []


def call(function: str, *args, convert: bool = True, **kwargs):
    """Call an R function with numpy conversion; R errors become PortError (one line).

    With ``convert=False`` the arguments are converted as usual but R's value is returned as
    rpy2's object (no copy), for ``py_arrays`` or ``converted`` to read.
    """
    robjects, converter = r()
    from rpy2.rinterface_lib.embedded import RRuntimeError

    _held.clear()
    if not convert:
        with converter.context() as context:
            args = tuple(context.py2rpy(a) for a in args)
            kwargs = {k: context.py2rpy(v) for k, v in kwargs.items()}
    try:
        with (converter if convert else robjects.default_converter).context():
            try:
                value = _function(robjects, function)(*args, **kwargs)
            except RRuntimeError as error:
                _held.clear()
                raise PortError(r_error_text(str(error))) from None
    finally:
        signals.raise_swallowed()  # a Ctrl-C that came while R ran, which rpy2 dropped
    if _held:
        sys.stderr.write("".join(_held))
        _held.clear()
    return value


def _function(robjects, name: str):
    """The harness's function `name`; else R's own, as R's global environment finds it."""
    try:
        return harness()[name]
    except KeyError:
        return robjects.globalenv.find(name)


def converted(value):
    """An R value from ``call(..., convert=False)``, as ``call`` would have returned it."""
    _, converter = r()
    with converter.context() as context:
        return context.rpy2py(value)


def r_array(array: np.ndarray):
    """A numpy array as an R double array of the same shape, as numpy2ri makes it, with two
    copies less: numpy2ri copies into R, then R's array() copies again to set the dimensions;
    here the dimensions are set on the vector itself, and the values are written into R's
    memory in R's column-major order as they are copied (``_r_doubles``)."""
    from rpy2 import rinterface

    array = np.asarray(array, dtype=np.float64)
    if _c_api() is not None:
        vector = _r_doubles(array)
    else:  # a column-major copy first, then rpy2 copies it into R
        vector = rinterface.FloatSexpVector(np.ravel(array, order="F"))
    vector.do_slot_assign("dim", rinterface.IntSexpVector(array.shape))
    return vector


def _r_doubles(array: np.ndarray):
    """R doubles allocated in R and written once, straight from numpy's layout into R's
    column-major order. Lockstep's input on the scale case, 34 chunks of 16 MB: 0.45 s of
    R's worker through a column-major copy and rpy2's FloatSexpVector (docs/benchmarks.md)."""
    from rpy2.rinterface_lib import conversion, memorymanagement

    _, rlib, _ = _c_api()
    with memorymanagement.rmemory() as protected:
        vector = protected.protect(rlib.Rf_allocVector(rlib.REALSXP, array.size))
        if array.size:
            np.copyto(_doubles(vector, array.shape), array)
        return conversion._cdata_to_rinterface(vector)  # held by rpy2 from here


def _doubles(vector, dims: tuple[int, ...]) -> np.ndarray:
    """numpy's view of an R double vector's memory (rpy2's C handle on it, ``_c_api``) as an
    array of `dims` in R's column-major order: alive only as long as R keeps the vector."""
    ffi, rlib, _ = _c_api()
    cells = int(np.prod(dims))
    return np.frombuffer(ffi.buffer(rlib.REAL(vector), cells * 8), np.float64).reshape(
        dims, order="F"
    )


def r_epochs_last(array: np.ndarray):
    """A trace's array [epochs, rows, cols] as an R double array [rows, cols, epochs]: each
    epoch's matrix in R's column-major order, the epochs end to end, so that R takes an
    epoch as one block (harness.R's epoch_of) instead of gathering it cell by cell.

    A large matrix (harness.R's ``epochs_list_cells`` and more) goes as the list of its
    epochs' matrices, as a port records it: R then slices nothing (lockstep_inputs). The
    scale case's lockstep, 34 chunks, spent 0.22 s of R's 1.2 s slicing epochs."""
    from rpy2 import rinterface

    array = np.asarray(array)
    if _as_epochs_list(array):
        return rinterface.ListSexpVector([r_array(matrix) for matrix in array])
    return r_array(array.transpose(1, 2, 0))


def _as_epochs_list(array: np.ndarray) -> bool:
    """Whether ``r_epochs_last`` sends `array` as the list of its epochs' matrices."""
    return array.ndim == 3 and len(array) > 0 and array[0].size >= epochs_list_cells()


class LockstepInputs:
    """Lockstep's inputs in R, chunk after chunk: the same R vectors, written again.

    Each chunk's inputs (the other trace: 16 MB on the scale case) were new R vectors,
    alive through R's whole lockstep call and so kept past R's young collections. On the
    scale case (100 epochs, both modes) R's worker's collections took 0.25 s, 0.17 s with
    the same vectors written again; the run 3.89 -> 3.78 s (docs/benchmarks.md). A matrix
    is laid out as ``r_epochs_last`` lays it (so the values are those bits), and made anew
    when its layout changes (a chunk of fewer epochs). Written only between calls: each
    call's values are copied out of R first (py_arrays), and R code never changes a value
    its caller holds (a function that changes an argument changes its own copy). Without
    rpy2's C API handles, new vectors every chunk as before.
    """

    def __init__(self):
        # name -> (its layout, its R value, numpy's views of R's memory to write into)
        self.held: dict[str, tuple] = {}

    def __call__(self, arrays: dict[str, np.ndarray]):
        robjects, _ = r()
        values = {}
        for name, array in arrays.items():
            array = np.asarray(array, dtype=np.float64)
            # the layout r_epochs_last gives it: its shape, and whether a list of its epochs
            layout = (array.shape, _as_epochs_list(array))
            # in R's layout: each epoch's matrix (a list), or the array [rows, cols, epochs]
            parts = list(array) if layout[1] else [array.transpose(1, 2, 0)]
            held = self.held.get(name)
            if held is not None and held[0] == layout:
                _, value, views = held
                for target, source in zip(views, parts, strict=True):
                    np.copyto(target, source)
            else:
                value = r_epochs_last(array)
                if _c_api() is not None and array.ndim == 3:
                    vectors = value if layout[1] else [value]
                    views = [_doubles(v.__sexp__._cdata, p.shape) for v, p in zip(
                        vectors, parts, strict=True)]
                    self.held[name] = (layout, value, views)
            values[name] = value
        return robjects.ListVector(values)


@lru_cache(maxsize=1)
def epochs_list_cells() -> int:
    """harness.R's epochs_list_cells: from this size a matrix's epochs travel as a list."""
    return int(harness()["epochs_list_cells"][0])


def named_list(arrays: dict[str, np.ndarray], as_r=r_array):
    """An R named list of numeric arrays (each made by `as_r`: r_array, or r_epochs_last)."""
    robjects, _ = r()
    return robjects.ListVector({k: as_r(v) for k, v in arrays.items()})


def py_arrays(value, place=None) -> dict[str, np.ndarray] | None:
    """A named R list of double arrays (from ``call(..., convert=False)``) as C-ordered numpy
    arrays, each copied once, straight from R's memory into C order (numpy2ri copies each into
    a Fortran-ordered array first). None when ``value`` is not such a list: read it
    ``converted``. ``place(shapes)`` gives the empty arrays to copy into (a worker's slot,
    wire.Arena.place); by default new ones."""
    from rpy2 import rinterface

    if not isinstance(value, rinterface.ListSexpVector) or list(value.rclass) != ["list"]:
        return None
    if len(value) == 0:
        return {}
    names = value.names
    if names is rinterface.NULL or any(not name for name in names):
        return None
    # iterated as rinterface's list: robjects' converts each element on the way (0.7 ms a call)
    items = list(zip(names, rinterface.ListSexpVector(value), strict=True))
    if not all(isinstance(v, rinterface.FloatSexpVector) or _epochs_list(v) for _, v in items):
        return None
    views = [_epochs_view(v) for _, v in items]
    if any(view is None for view in views):
        return None
    out = (place or _new_arrays)([_shape(view) for view in views])
    for target, view in zip(out, views, strict=True):
        if isinstance(view, list):
            for epoch, matrix in zip(target, view, strict=True):
                np.copyto(epoch, matrix)
        else:
            np.copyto(target, view)
    return {str(name): target for (name, _), target in zip(items, out, strict=True)}


def unrecorded_epochs(value) -> dict[str, int]:
    """Of a named R list of a port's trace (``nnparity_advance``'s), each matrix whose list
    left an epoch NULL (harness.R's epochs_last marks it "unrecorded"): name -> its first
    such epoch, 1-based in the chunk."""
    from rpy2 import rinterface

    if not isinstance(value, rinterface.ListSexpVector) or value.names is rinterface.NULL:
        return {}
    found = {}
    for name, element in zip(value.names, rinterface.ListSexpVector(value), strict=True):
        if _has_attribute(element, "unrecorded"):
            found[str(name)] = int(element.do_slot("unrecorded")[0])
    return found


def _epochs_list(value) -> bool:
    """harness.R's epochs_last() for a large matrix: the list of its epochs, each doubles."""
    from rpy2 import rinterface

    return isinstance(value, rinterface.ListSexpVector) and _has_attribute(value, "epochs_list")


@lru_cache(maxsize=1)
def _c_api():
    """R's C API as rpy2 opens it (cffi): (ffi, rlib, TYPEOF), or None where this rpy2 has no
    TYPEOF, or no wrapper of a new R value, of its own. Reading a chunk through it spares
    rpy2's objects: 10 us to ask a vector for one attribute by listing them all
    (list_attrs()), 25 us for the views of a list of three epochs, against 0.4 us and 5 us
    (about 1 ms of each of R's chunks on the scale case, whose worker is the run's slowest;
    docs/benchmarks.md)."""
    from rpy2.rinterface_lib import _rinterface_capi, conversion, openrlib

    typeof = getattr(_rinterface_capi, "_TYPEOF", None)
    if typeof is None or not hasattr(conversion, "_cdata_to_rinterface"):
        return None
    return openrlib.ffi, openrlib.rlib, typeof


def _has_attribute(vector, name: str) -> bool:
    api = _c_api()
    if api is None:
        return name in vector.list_attrs()
    _, rlib, _ = api
    found = rlib.Rf_getAttrib(vector.__sexp__._cdata, rlib.Rf_install(name.encode()))
    return found != rlib.R_NilValue


def _shape(view) -> tuple[int, ...]:
    return (len(view), *view[0].shape) if isinstance(view, list) else view.shape


def _new_arrays(shapes) -> list[np.ndarray]:
    return [np.empty(shape) for shape in shapes]


def _epochs_view(vector) -> np.ndarray | list[np.ndarray] | None:
    """An R double array as numpy's view [epochs, rows, cols] of R's memory, to be copied
    (py_arrays): a view is alive only as long as R keeps the vector.

    An array marked "epochs_last" (harness.R's epochs_last(): [rows, cols, epochs], each
    epoch's matrix in one block) is read epoch by epoch in the same copy; a list marked
    "epochs_list" (the same for a large matrix: its epochs' vectors as the port left them) is
    a list of views, one per epoch, or None if one is not doubles of the marked shape.
    """
    if _epochs_list(vector):  # each epoch's doubles, as R's column-major [rows, cols]
        shape = tuple(vector.do_slot("epochs_list"))
        return _epoch_views(vector, shape)
    view = np.asarray(vector)
    if _has_attribute(vector, "epochs_last"):
        view = view.transpose(2, 0, 1)
    return view


def _epoch_views(vector, shape: tuple[int, int]) -> list[np.ndarray] | None:
    """Each epoch of an "epochs_list" as numpy's view of its doubles, R's [rows, cols]."""
    api = _c_api()
    if api is None:
        return [np.asarray(epoch).reshape(shape, order="F") for epoch in vector]
    _, rlib, typeof = api
    cells = shape[0] * shape[1]
    listed = vector.__sexp__._cdata
    views = []
    for i in range(rlib.Rf_xlength(listed)):
        epoch = rlib.VECTOR_ELT(listed, i)
        # epochs_last() made each one so; a wrong one would be read past its end
        if typeof(epoch) != rlib.REALSXP or rlib.Rf_xlength(epoch) != cells:
            return None
        views.append(_doubles(epoch, shape))
    return views


def r_error_text(text: str) -> str:
    """R's error as one line: "Error in f(x) : message" reads "message (in f(x))"."""
    text = " ".join(text.split())
    if text.startswith("Error: "):
        return text.removeprefix("Error: ")
    if text.startswith("Error in ") and " : " in text:
        where, message = text.removeprefix("Error in ").split(" : ", 1)
        return f"{message} (in {where})"
    return text
