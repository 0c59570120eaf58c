# The R side of nnparity's bridge. Python calls these functions through rpy2;
# each call crosses the language border once, whatever the number of epochs.

# R's JIT compiler compiles a function on its first call. The port's code runs
# compiled, as Rscript runs it; the harness's own functions run a few times
# per chunk, and compiling them on their first call cost an R worker about
# 45 ms at its start (docs/benchmarks.md). In a worker, whose R runs nothing
# but this harness and one port, nnparity_interpret_harness() turns the JIT
# off and as_port_runs() turns it back on, at R's own level (R_ENABLE_JIT),
# for the port's code. port_jit_level NULL: the JIT as R set it, for all
# code (R in a process that runs other R code too).
port_jit_level <- NULL

nnparity_interpret_harness <- function() {
  port_jit_level <<- compiler::enableJIT(0)
  invisible(port_jit_level)
}

as_port_runs <- function(expr) {
  if (is.null(port_jit_level)) return(expr)
  compiler::enableJIT(port_jit_level)
  on.exit(compiler::enableJIT(0))
  expr
}

# Source every .R file of a port (except its Rscript entry point, main.R) into
# a fresh environment, so that several ports can live in one R session.
# A port's load.R (as r_impl has) names its files in r_impl_files; any other
# file stands for itself. Sourced with their source kept, so that an R error
# names the port's file and line.
port_files_of <- function(file) {
  if (basename(file) != "load.R") {
    return(file)
  }
  loader <- new.env(parent = globalenv())
  tryCatch( # the port's own code, as its other files: an error names load.R
    as_port_runs(sys.source(file, envir = loader, keep.source = FALSE)),
    error = function(error) {
      stop("load.R: ", conditionMessage(error), call. = FALSE)
    }
  )
  file.path(dirname(file), loader$r_impl_files)
}

nnparity_load_port <- function(files) {
  port <- new.env(parent = globalenv())
  sourced <- unlist(lapply(files, port_files_of))
  # where its code comes from: an error's line is looked for there (port_line())
  attr(port, "nnparity_files") <- normalizePath(sourced, mustWork = FALSE)
  for (file in sourced) {
    tryCatch(
      as_port_runs(sys.source(file, envir = port, keep.source = TRUE)),
      error = function(error) {
        stop(basename(file), ": ", conditionMessage(error), call. = FALSE)
      }
    )
  }
  if (!is.function(port$train)) {
    stop(
      "does not define train(X, y, wh, bh, wout, bout, lr, epochs, record)",
      call. = FALSE
    )
  }
  port
}

# A training session: the case's data and the current weights stay in R
# between chunks of epochs, so only traces cross the border.
nnparity_start <- function(port, X, y, wh, bh, wout, bout, lr) {
  state <- new.env(parent = emptyenv())
  state$port <- port
  state$X <- X
  state$y <- y
  state$wh <- wh
  state$bh <- bh
  state$wout <- wout
  state$bout <- bout
  state$lr <- lr
  state
}

nnparity_advance <- function(state, epochs, record) {
  warned <- character()
  result <- withCallingHandlers(
    as_port_runs(state$port$train(
      state$X, state$y, state$wh, state$bh, state$wout, state$bout, state$lr,
      epochs, record
    )),
    # R's warnings (cannot open file 'x.txt') explain the error that follows
    warning = function(w) {
      warned <<- union(warned, gsub("\\s+", " ", trimws(conditionMessage(w))))
    },
    error = function(e) {
      calls <- sys.calls()
      site <- crash_site(calls, conditionCall(e), state$port)
      if (is.null(site)) site <- port_line(calls, state$port)
      if (is.null(site)) return()
      why <- if (length(warned) > 0) {
        paste0(" (R warned: ", paste(warned, collapse = "; "), ")")
      } else {
        ""
      }
      stop(paste0(site, ": ", conditionMessage(e), why), call. = FALSE)
    }
  )
  check_result(result, record)
  state$wh <- result$wh
  state$bh <- result$bh
  state$wout <- result$wout
  state$bout <- result$bout
  if (!record) return(list(output = result$output))
  trace <- result$trace
  for (name in names(trace)) trace[[name]] <- without_markers(trace[[name]])
  for (name in names(trace)[vapply(trace, is_epochs_list, NA)]) {
    trace[[name]] <- epochs_last(name, trace[[name]], epochs)
  }
  # What train() returned, as [1, rows, cols], beside the trace: compared with
  # the trace's last epoch and with the other language.
  returned <- c("output", "wh", "bh", "wout", "bout")
  c(trace, setNames(lapply(returned, function(name) {
    value <- result[[name]]
    array(as.double(value), c(1, dim(value)))
  }), paste0("returned_", returned)))
}

nnparity_weights <- function(state) {
  list(wh = state$wh, bh = state$bh, wout = state$wout, bout = state$bout)
}

# What train() returned, checked where it crosses into the harness. An error
# that starts with "nnparity: " is the port's, in one line; the Python side
# names the port in front of it.
check_result <- function(result, record) {
  expected <- "list(wh, bh, wout, bout, output, trace)"
  if (!is.list(result) || is.data.frame(result)) {
    stop(
      "nnparity: returned ", describe_value(result), " from train; expected ",
      expected,
      call. = FALSE
    )
  }
  check_unique_names(result, "from train")
  for (name in c("wh", "bh", "wout", "bout")) check_weight(result, name)
  if (record) check_trace(result$trace)
}

# A list holding two entries of one name: R's `$` reads the first, another
# reader could take the last (a trace's E twice, the wrong one first, passed).
check_unique_names <- function(value, where) {
  twice <- names(value)[duplicated(names(value)) & names(value) != ""]
  if (length(twice) > 0) {
    stop("nnparity: returned a list with two entries named ", twice[1], " ",
         where, "; expected one of each name", call. = FALSE)
  }
}

# A weight that is doubles without dimensions lost them in a step (R's
# arithmetic with a vector: `bout + rowSums(d_output) * lr`): a wrong value of
# that step, not of the border, so free-running stops there (a plain error)
# and lockstep can still name the step. Anything else is the border's.
check_weight <- function(result, name) {
  value <- result[[name]]
  if (is.double(value) && is.matrix(value)) return(invisible())
  prefix <- if (is.double(value)) "" else "nnparity: "
  stop(prefix, "returned ", describe_value(value), " as ", name,
       " from train; expected a matrix of doubles", call. = FALSE)
}

check_trace <- function(trace) {
  expected <- paste(
    "a named list of double arrays [epochs, rows, cols]",
    "(or of lists of each epoch's matrix)"
  )
  if (!is.list(trace) || is.data.frame(trace) || length(trace) == 0) {
    stop(
      "nnparity: returned ", describe_value(trace), " as its trace; expected ",
      expected,
      call. = FALSE
    )
  }
  if (is.null(names(trace)) || any(names(trace) == "")) {
    stop("nnparity: returned a trace with unnamed entries; expected ", expected,
         call. = FALSE)
  }
  check_unique_names(trace, "as its trace")
  # A list of epochs is checked as it is laid out (epochs_last()).
  epochs_lists <- vapply(trace, is_epochs_list, NA)
  for (name in names(trace)[!epochs_lists]) {
    if (!is.double(trace[[name]])) {
      stop("nnparity: returned ", describe_value(trace[[name]]), " for ", name,
           " in its trace; expected doubles", call. = FALSE)
    }
  }
}

is_epochs_list <- function(value) is.list(value) && !is.data.frame(value)

# The size (cells) from which epochs_last() leaves a matrix's epochs in their
# list. Measured per epoch of 300 (docs/benchmarks.md): Python reads each
# vector of a list in 11-15 us up to 1,024 cells; unlist() and the copy out of
# its result take 1 us at 16 cells, 29 us at 1,024 and 154 us at 4,096.
epochs_list_cells <- 1024

# A matrix recorded as the list of its epochs (a port's trace$E[[i]], and
# lockstep's values) as one double array [rows, cols, epochs], marked with the
# attribute "epochs_last": the epochs' matrices end to end, as unlist() lays
# them, so nothing is reordered in R (bridge.py_arrays reads each epoch into
# Python's order as it copies the array out); a large matrix's list is kept
# as it is, marked with the attribute "epochs_list" (the matrix's dimensions).
# An epoch left NULL was never recorded: it reads NA, and the value carries
# the first such epoch as its attribute "unrecorded" (RPort.advance makes it
# that step's problem, named: NA alone read as a value R had computed).
epochs_last <- function(name, matrices, epochs, check_shapes = TRUE) {
  sizes <- lengths(matrices)
  if (length(matrices) != epochs || all(sizes == 0)) {
    stop(
      "nnparity: returned a list of ", length(matrices), " epochs of ", name,
      " in its trace, ", sum(sizes > 0), " of them recorded, for ", epochs,
      " epochs trained; expected a list of ", epochs, " matrices",
      call. = FALSE
    )
  }
  first <- which(sizes > 0)[1]
  shape <- dim(matrices[[first]])
  odd <- which(sizes != 0 & sizes != prod(shape))
  if (length(shape) != 2 || length(odd) > 0) {
    at <- if (length(odd) > 0) odd[1] else first
    stop(
      "nnparity: returned ", describe_value(matrices[[at]]), " as epoch ", at,
      " of ", name, " in its trace; expected a matrix, of one size in every ",
      "epoch",
      call. = FALSE
    )
  }
  check_epoch_shapes(name, matrices, sizes, shape, first, check_shapes)
  skipped <- which(vapply(matrices, is.null, NA))
  if (length(skipped) > 0) matrices[skipped] <- list(array(NA_real_, shape))
  marked <- function(value) {
    if (length(skipped) > 0) attr(value, "unrecorded") <- skipped[1]
    value
  }
  # A large matrix's epochs go to Python as they are, each copied once from
  # where the port left it (bridge.py_arrays): unlist() would copy them all
  # once more, and the new chunk-sized vector brings R's collections forward
  # (docs/benchmarks.md). Small ones are laid end to end here, as reading
  # thousands of tiny vectors one by one costs Python more than the copy.
  large <- prod(shape) >= epochs_list_cells
  if (large && all(vapply(matrices, is.double, NA))) {
    attr(matrices, "epochs_list") <- shape
    return(marked(matrices))
  }
  value <- unlist(matrices, use.names = FALSE)
  if (!is.double(value)) {
    stop("nnparity: returned ", typeof(value), " values for ", name,
         " in its trace; expected doubles", call. = FALSE)
  }
  dim(value) <- c(shape, epochs)
  attr(value, "epochs_last") <- TRUE
  marked(value)
}

# Every recorded epoch of a port's list holds a matrix of the first one's
# dimensions: read in that shape, a 3 x 1 bias recorded where epoch 1's is
# 1 x 3, or t() of a square-free matrix of as many cells, would be compared
# cell for cell as another matrix, and a 1 x 3 read as 3 x 1 holds parity.
# The dimensions of 5000 small matrices cost 1.5-2.7 ms more per matrix of a
# chunk (epochs_last() with and without, Rscript, medians of 15 x 20 calls, run
# twice; vapply() over dim was slower): about 30 ms of the article's 5000
# epochs, paid by ports that record lists only (r_impl's), not by lockstep's
# values, whose every epoch check_dim() has checked.
check_epoch_shapes <- function(name, matrices, sizes, shape, first, check) {
  if (!check) return(invisible())
  recorded <- matrices[sizes > 0]
  dims <- unlist(lapply(recorded, dim), use.names = FALSE)
  if (length(dims) == 2 * length(recorded) && all(dims == shape)) {
    return(invisible())
  }
  same <- vapply(matrices, function(m) {
    is.null(m) || identical(dim(m), shape)
  }, NA)
  at <- which(!same)[1]
  stop(
    "nnparity: returned ", describe_shape(matrices[[at]]), " as epoch ", at,
    " of ", name, " in its trace, where epoch ", first, "'s is ",
    paste(shape, collapse = " x "), "; expected a matrix of one shape in ",
    "every epoch",
    call. = FALSE
  )
}

# The attributes with which the harness marks a trace for Python (epochs_last()
# below) mean what the harness says only: a port's own (its array marked
# "unrecorded", which Python read as an epoch it left NULL) are dropped. Only
# an entry holding one is copied: the others are a chunk's megabytes.
trace_markers <- c("unrecorded", "epochs_last", "epochs_list")

without_markers <- function(value) {
  if (!any(trace_markers %in% names(attributes(value)))) return(value)
  for (marker in trace_markers) attr(value, marker) <- NULL
  value
}

# "a 3 x 1 matrix", "a vector of length 3", "a 2 x 2 x 2 array", or
# describe_value() for a value of no dimensions that is no vector (a list).
describe_shape <- function(value) {
  dims <- dim(value)
  if (length(dims) < 2 && is.atomic(value) && !is.null(value)) {
    vector <- if (is.null(dims)) "a vector" else "a one-dimensional array"
    return(paste(vector, "of length", length(value)))
  }
  if (is.null(dims) || is.data.frame(value)) return(describe_value(value))
  kind <- if (length(dims) == 2) "matrix" else "array"
  paste("a", paste(dims, collapse = " x "), kind)
}

describe_value <- function(value) {
  if (is.null(value)) return("NULL")
  if (is.data.frame(value)) return("a data.frame")
  if (is.list(value)) {
    return(if (length(value) == 0) "an empty list" else "a list")
  }
  if (is.array(value)) {
    article <- if (typeof(value) == "integer") "an " else "a "
    return(paste0(article, typeof(value), " array"))
  }
  paste(typeof(value), "values")
}

# The port's `steps` list as its own code finds it: in its files' environment,
# or, set there with `steps <<- list(...)`, in R's global environment (where
# Rscript main.R would have put it too).
port_steps <- function(port) get0("steps", envir = port, inherits = TRUE)

# Lockstep: recompute every recorded matrix of every epoch with the port's
# step function, from the other language's recorded inputs of that step.
# `trace` holds the other language's arrays for a chunk, each laid out
# [rows, cols, epochs] (bridge.r_epochs_last: an epoch's matrix in one block),
# or, from epochs_list_cells on, as the list of its epochs' matrices;
# `start` the weights at the chunk's start; `quantities` maps each recorded
# name to the names of its inputs; `state_names` are the inputs that mean
# "the value at the start of the epoch"; `elementwise` names the steps the
# step list (steps.csv) says are elementwise: with `batch`, each of those is
# first tried in one call over the whole chunk (lockstep_batched()).
#
# A step that errors, or returns a matrix of the wrong shape, is a finding
# about that step only: it is caught here and returned in `problems` (the
# epoch within the chunk and R's message), and the other steps still run.
nnparity_lockstep <- function(port, trace, start, X, y, lr, quantities,
                              state_names, elementwise = character(),
                              batch = TRUE) {
  compile_lockstep()
  as_port_runs(lockstep(
    port, trace, start, X, y, lr, quantities, state_names, elementwise, batch
  ))
}

# Lockstep's own loop and the harness's functions it calls each epoch, compiled
# on lockstep's first call. R's JIT compiles a small function by itself only
# where it lives in R's global environment; the harness lives in an
# environment of its own (bridge.py), where these ran interpreted. Not when
# the JIT is off (R_ENABLE_JIT=0): then nothing is compiled.
lockstep_hot <- c(
  "lockstep_one", "check_dim", "as_doubles", "epoch_of", "epochs_last",
  "same_bits", "lockstep_step", "lockstep_inputs", "stack_epochs",
  "call_stacked", "agrees_on"
)
lockstep_compiled <- FALSE

compile_lockstep <- function() {
  level <- port_jit_level
  if (is.null(level)) level <- compiler::enableJIT(-1)
  if (lockstep_compiled || level <= 0) return(invisible())
  env <- environment(compile_lockstep)
  for (name in lockstep_hot) {
    unlockBinding(name, env)
    assign(name, compiler::cmpfun(get(name, envir = env)), envir = env)
    lockBinding(name, env)
  }
  lockstep_compiled <<- TRUE
}

# Lockstep's loops call the port's steps once per epoch: compiled, as the
# port's code is (as_port_runs()).
lockstep <- function(port, trace, start, X, y, lr, quantities, state_names,
                     elementwise, batch) {
  constant <- list(X = X, y = y, lr = lr)
  inputs <- lockstep_inputs(trace, start, constant, state_names)
  values <- list()
  problems <- list()
  batched_steps <- character()
  for (name in names(quantities)) {
    needs <- quantities[[name]]
    batched <- batch && name %in% elementwise && !any(needs %in% state_names) &&
      elementwise_code(port_steps(port)[[name]])
    shape <- epochs_shape(trace[[name]]) # [epochs, rows, cols]
    outcome <- lockstep_step(
      port_steps(port)[[name]], name, needs, inputs, shape, batched
    )
    if (is.null(outcome$problem)) {
      values[[name]] <- outcome$value
    } else {
      problems[[name]] <- outcome$problem
    }
    if (isTRUE(outcome$batched)) batched_steps <- c(batched_steps, name)
  }
  list(values = values, problems = problems, batched = batched_steps)
}

# The steps' inputs in a chunk, by name, three ways: `over_epochs(input)`, its
# value at every epoch (a list; each recorded matrix sliced once, when a step
# first needs it); `at(input, i)`, its value at epoch i; `stacked(input,
# epochs)`, its values at those epochs as one matrix (stack_epochs()). A
# constant (X, y, lr) is the same at every epoch; a state input (the weights
# at the start of an epoch) is the chunk's start, then the recorded update of
# the epoch before.
lockstep_inputs <- function(trace, start, constant, state_names) {
  epochs <- epochs_shape(trace[[1]])[1]
  sliced <- list()
  over_epochs <- function(input) {
    if (input %in% names(constant)) {
      return(rep(list(constant[[input]]), epochs))
    }
    if (is.null(sliced[[input]])) {
      recorded <- trace[[input]]
      sliced[[input]] <<- if (is.list(recorded)) {
        recorded
      } else {
        lapply(seq_len(epochs), epoch_of(recorded))
      }
    }
    if (input %in% state_names) {
      return(c(list(start[[input]]), sliced[[input]][-epochs]))
    }
    sliced[[input]]
  }
  at <- function(input, i) {
    if (input %in% names(constant)) {
      return(constant[[input]])
    }
    recorded <- trace[[input]]
    if (is.list(recorded)) recorded[[i]] else epoch_of(recorded)(i)
  }
  stacked <- function(input, which) {
    if (input %in% names(constant)) {
      return(stack_constant(constant[[input]], length(which)))
    }
    stack_epochs(as_epochs_last(trace[[input]]), which)
  }
  list(over_epochs = over_epochs, at = at, stacked = stacked)
}

# The operations a step may be built of to be called once over a chunk: each
# gives every cell from the same cells of its arguments alone, whatever the
# number of rows (R's own functions, as base R defines them).
elementwise_operations <- c(
  "+", "-", "*", "/", "^", "(", "{", "<-", "=", "exp", "log", "log1p",
  "expm1", "sqrt", "abs", "tanh", "sinh", "cosh", "pmin", "pmax", ">", "<",
  ">=", "<=", "==", "!=", "!", "&", "|", "ifelse"
)

# Whether a step's code is elementwise by what it is written with, not by
# what it gives on a few epochs: its body (and that of every function of the
# port it calls, such as sigmoid()) uses only elementwise_operations, as base R
# defines them, its own arguments and local names, and numeric constants. A
# step that reads a row, a size, a sum or another global (output[1, 1],
# nrow(x), if ...) is called once per epoch: a difference it makes only at
# some epochs is then found at its epoch.
elementwise_code <- function(step, seen = list()) {
  if (!is.function(step) || is.primitive(step)) return(FALSE)
  if (any(vapply(seen, identical, NA, step))) return(TRUE)
  seen <- c(seen, step)
  env <- environment(step)
  locals <- c(names(formals(step)), assigned_names(body(step)))
  # an argument's default is code too (function(x, k = x[1, 1]))
  defaults <- Filter(function(d) !is.name(d) || nzchar(as.character(d)),
                     formals(step))
  all(vapply(defaults, elementwise_expr, NA, env, locals, seen)) &&
    elementwise_expr(body(step), env, locals, seen)
}

elementwise_expr <- function(e, env, locals, seen) {
  if (is.numeric(e) && length(e) == 1) return(TRUE)
  if (is.name(e)) return(as.character(e) %in% locals)
  if (!is.call(e) || !is.name(e[[1]])) return(FALSE)
  head <- as.character(e[[1]])
  args <- as.list(e)[-1]
  if (head %in% c("<-", "=")) {
    if (!is.name(args[[1]])) return(FALSE)
    args <- args[-1]
  }
  elementwise_call(head, env, seen) &&
    all(vapply(args, elementwise_expr, NA, env, locals, seen))
}

# Whether the function a call names is one of elementwise_operations as base R
# defines it, or a function of the port's whose own code is elementwise.
elementwise_call <- function(head, env, seen) {
  if (head %in% elementwise_operations) {
    return(identical(get0(head, envir = env), get0(head, envir = baseenv())))
  }
  elementwise_code(get0(head, envir = env, mode = "function"), seen)
}

# The names a function body assigns with <- or = (its local names).
assigned_names <- function(e) {
  if (!is.call(e)) return(character())
  found <- if (is.name(e[[1]]) && as.character(e[[1]]) %in% c("<-", "=") &&
                 is.name(e[[2]])) {
    as.character(e[[2]])
  } else {
    character()
  }
  c(found, unlist(lapply(as.list(e)[-1], assigned_names)))
}

# One step over a chunk: in one call when `batched` (an elementwise step of
# the step list) and that gives what per-epoch calls give, else per epoch.
# Its inputs are handed by name or by position (argument_names()).
lockstep_step <- function(step, name, needs, inputs, shape, batched) {
  named <- argument_names(step, needs)
  if (batched) {
    outcome <- lockstep_batched(
      step, shape,
      stacked = function(which) {
        stats::setNames(lapply(needs, inputs$stacked, which), named)
      },
      at = function(i) stats::setNames(lapply(needs, inputs$at, i), named)
    )
    if (!is.null(outcome)) return(outcome)
  }
  # The arguments of each epoch's call: list(epoch 1's, epoch 2's, ...).
  calls <- .mapply(
    list, stats::setNames(lapply(needs, inputs$over_epochs), named), NULL
  )
  lockstep_one(step, name, calls, shape)
}

# The steps of a port whose inputs lockstep hands by position, not by name
# (argument_names() NULL): name -> the step's own argument names, for a
# failure's story (argument names other than the step list's, in another
# order, compute from the inputs in the wrong places).
nnparity_positional_steps <- function(port, quantities) {
  found <- list()
  for (name in names(quantities)) {
    step <- port_steps(port)[[name]]
    if (!is.function(step) || is.primitive(step)) next
    formal <- names(formals(step))
    by_name <- argument_names(step, quantities[[name]])
    if (length(formal) > 0 && is.null(by_name)) found[[name]] <- formal
  }
  found
}

# The names a step's inputs are handed by: the inputs' own names (the step
# list's, steps.csv) when each of them is a formal argument of the step and
# every other argument has a default, whatever their order (function(output,
# y) for E = y - output, which a port's train() calls as steps$E(y = y,
# output = output); function(output, y, verbose = FALSE)); NULL otherwise (a
# primitive, `...`, other names), and they are handed by position, in the
# step list's order.
argument_names <- function(step, needs) {
  if (!is.function(step)) return(NULL)
  formal <- formals(step)
  others <- formal[setdiff(names(formal), needs)]
  defaulted <- vapply(others, function(d) !is.name(d) || nzchar(d), NA)
  by_name <- length(formal) > 0 && all(needs %in% names(formal)) &&
    !"..." %in% names(others) && all(defaulted)
  if (by_name) needs else NULL
}

# A recorded input's shape [epochs, rows, cols]: an array [rows, cols, epochs],
# or, for a large matrix, the list of its epochs' matrices
# (bridge.r_epochs_last sends it so from epochs_list_cells on: each epoch
# made in R as a matrix of its own, nothing to slice here).
epochs_shape <- function(recorded) {
  if (is.list(recorded)) {
    return(c(length(recorded), dim(recorded[[1]])))
  }
  dim(recorded)[c(3, 1, 2)]
}

# A recorded input as an array [rows, cols, epochs], from a list of its
# epochs' matrices if it came as one.
as_epochs_last <- function(recorded) {
  if (!is.list(recorded)) return(recorded)
  array(unlist(recorded, use.names = FALSE), epochs_shape(recorded)[c(2, 3, 1)])
}

# A function of i: epoch i of a recorded array [rows, cols, epochs], as a
# rows x cols matrix. A large matrix's cells are taken as one block by a range
# (R copies a range as a block, where [, , i] indexes every cell: 1.1 ms
# against 2.7 ms for three epochs of a 2000 x 64 matrix); a small one's by
# [, , i], fewer operations per epoch (the article's 5000 epochs).
epoch_of <- function(recorded) {
  shape <- dim(recorded)[1:2]
  cells <- shape[1] * shape[2]
  function(i) {
    value <- if (cells < 1024) {
      recorded[, , i]
    } else {
      recorded[((i - 1) * cells + 1):(i * cells)]
    }
    dim(value) <- shape
    value
  }
}

# Some epochs of a recorded array [rows, cols, epochs] as one matrix
# [epochs * rows, cols]: row (r - 1) * epochs + e holds row r of epoch e.
stack_epochs <- function(recorded, epochs) {
  shape <- dim(recorded)[1:2]
  if (!identical(epochs, seq_len(dim(recorded)[3]))) {
    recorded <- recorded[, , epochs, drop = FALSE]
  }
  value <- aperm(recorded, c(3, 1, 2))
  dim(value) <- c(length(epochs) * shape[1], shape[2])
  value
}

# A constant input (X, y) repeated for `epochs` epochs, laid out as
# stack_epochs() lays out a recorded one; a scalar (lr) stays as it is.
stack_constant <- function(value, epochs) {
  if (!is.matrix(value)) return(value)
  value[rep(seq_len(nrow(value)), each = epochs), , drop = FALSE]
}

# An elementwise step over the whole chunk in one call: each input's epochs
# stacked into one matrix [epochs * rows, cols] (stack_epochs()). Per epoch,
# this is the same arithmetic on the same numbers; it is kept only when it
# gives what per-epoch calls give, bit for bit, on seven epochs spread over
# the chunk (its first and last among them), each called alone and the seven
# stacked together (agrees_on()). A port's "elementwise" function may not be
# (mean(x), max(x), nrow(x), x[1, ], a matrix product): any difference, an
# error, a warning, or a value that is not doubles of the stacked shape,
# returns NULL and the step is called once per epoch (lockstep_one()), which
# names the epoch of an error. A chunk of fewer than `batch_epochs` epochs is
# called per epoch: the checks would cost what batching saves (a chunk of a
# large case holds a few epochs, whose arithmetic outweighs the calls).
lockstep_batched <- function(step, shape, stacked, at, batch_epochs = 64) {
  epochs <- shape[1]
  if (!is.function(step) || epochs < batch_epochs) return(NULL)
  value <- call_stacked(step, stacked, seq_len(epochs), shape)
  checked <- unique(round(seq(1, epochs, length.out = 7)))
  if (is.null(value) || !agrees_on(checked, step, stacked, at, value)) {
    return(NULL)
  }
  list(value = value, batched = TRUE)
}

# Whether `value`, the step's call on the whole chunk, holds at the epochs
# `checked` what the step gives on those epochs stacked together (last to
# first: a function of a row's place in the stack, or of how many rows there
# are, then gives other values) and called on each alone.
agrees_on <- function(checked, step, stacked, at, value) {
  together <- call_stacked(step, stacked, rev(checked), dim(value))
  if (is.null(together) ||
        !same_bits(together, value[rev(checked), , , drop = FALSE])) {
    return(FALSE)
  }
  for (i in checked) {
    one <- without_conditions(do.call(step, at(i)))
    if (!identical(dim(one), dim(value)[-1]) ||
          !same_bits(one, value[i, , ])) {
      return(FALSE)
    }
  }
  TRUE
}

# The step called on some epochs' stacked inputs, as an array
# [epochs, rows, cols]; NULL on an error, a warning, or a value that is not a
# matrix of doubles [epochs * rows, cols].
call_stacked <- function(step, stacked, epochs, shape) {
  value <- without_conditions(do.call(step, stacked(epochs)))
  rows <- as.integer(c(length(epochs) * shape[2], shape[3]))
  if (!is.double(value) || !identical(dim(value), rows)) return(NULL)
  attributes(value) <- NULL
  dim(value) <- c(length(epochs), shape[2], shape[3])
  value
}

# The value of `expr`, or NULL when it signals an error or a warning.
without_conditions <- function(expr) {
  tryCatch(expr, error = function(e) NULL, warning = function(w) NULL)
}

same_bits <- function(a, b) {
  is.double(a) && is.double(b) &&
    identical(as.vector(a), as.vector(b), num.eq = FALSE)
}

# One step called once per epoch of a chunk, `calls[[epoch]]` its arguments:
# list(value = array) or, when the step errors or returns the wrong shape,
# list(problem = list(epoch, message)).
lockstep_one <- function(step, name, calls, shape) {
  if (!is.function(step)) {
    message <- paste0("steps has no function named ", name)
    return(list(problem = list(epoch = 1L, message = message)))
  }
  cells <- shape[-1]
  out <- vector("list", shape[1])
  epoch <- 0L
  warned <- character()
  # R's warnings (recycling, say) explain a failure: keep them with it.
  keep_warning <- function(w) {
    warned <<- union(warned, gsub("\\s+", " ", trimws(conditionMessage(w))))
    invokeRestart("muffleWarning")
  }
  problem <- tryCatch(
    withCallingHandlers(
      {
        for (epoch in seq_len(shape[1])) {
          value <- do.call(step, calls[[epoch]])
          check_dim(name, value, cells)
          if (!is.double(value)) value <- as_doubles(name, value)
          out[[epoch]] <- value
        }
        NULL
      },
      warning = keep_warning
    ),
    error = function(error) {
      why <- if (length(warned) > 0) {
        paste0(" (R warned: ", paste(warned, collapse = "; "), ")")
      } else {
        ""
      }
      list(
        epoch = as.integer(epoch),
        message = paste0(conditionMessage(error), why)
      )
    }
  )
  if (!is.null(problem)) return(list(problem = problem))
  list(value = epochs_last(name, out, shape[1], check_shapes = FALSE))
}

# A step's matrix that is not doubles, as doubles (an integer or logical one is
# converted, as writing it into a double array would); any other type is the
# step's error.
as_doubles <- function(name, value) {
  if (!is.numeric(value) && !is.logical(value)) {
    stop("steps$", name, " returned ", typeof(value), " values where the ",
         "recorded ones are doubles", call. = FALSE)
  }
  storage.mode(value) <- "double"
  value
}

check_dim <- function(name, value, expected) {
  if (!identical(dim(value), as.integer(expected))) {
    stop(
      "steps$", name, " returned ", describe_shape(value),
      " where the recorded one is ",
      paste(expected, collapse = " x "),
      call. = FALSE
    )
  }
}

# Where an error in a port's train() happened, for its message: the step
# function (the innermost steps$name() call on the stack) and the port's own
# line (the line of that function holding the failing call, else the call's
# own source reference). NULL when the stack holds neither.
crash_site <- function(calls, failing, port) {
  call <- innermost_step_call(calls)
  if (is.null(call)) return(NULL)
  step <- as.character(call[[1]][[3]])
  line <- source_line(port_steps(port)[[step]], failing)
  # else the innermost call made from the port's files inside the step (its
  # stop()), then the step's own call
  inside <- calls[-seq_len(max(which(vapply(calls, identical, NA, call))))]
  if (is.null(line)) line <- sub("^at ", "", port_line(inside, port))
  at <- attr(call, "srcref")
  if (!length(line) && !is.null(at)) line <- describe_srcref(at, 1)
  where <- if (!length(line)) "" else paste0(", at ", line)
  paste0("in step function steps$", step, where)
}

# Where in the port's own files the innermost call of the stack was made
# ("at train.R:62: <that line>"), for an error outside its step functions (a
# stop() in train(), a file it reads); NULL when no call comes from them.
port_line <- function(calls, port) {
  files <- attr(port, "nnparity_files")
  for (call in rev(calls)) {
    ref <- attr(call, "srcref")
    if (is.null(ref)) next
    file <- utils::getSrcFilename(ref, full.names = TRUE)
    if (length(file) == 1 && normalizePath(file, mustWork = FALSE) %in% files) {
      return(paste0("at ", describe_srcref(ref, 1)))
    }
  }
  NULL
}

# The innermost steps$name(...) call on a stack of calls, or NULL.
innermost_step_call <- function(calls) {
  is_step <- function(call) {
    f <- call[[1]]
    is.call(f) && identical(f[[1]], as.name("$")) &&
      identical(f[[2]], as.name("steps"))
  }
  found <- Filter(is_step, calls)
  if (length(found) == 0) NULL else found[[length(found)]]
}

# "file:line: code" of the line of function `fn` that holds the call `failing`.
source_line <- function(fn, failing) {
  ref <- attr(fn, "srcref")
  if (is.null(ref) || is.null(failing)) return(NULL)
  text <- as.character(ref)
  hit <- grep(paste(deparse(failing), collapse = " "), text, fixed = TRUE)
  if (length(hit) == 0) return(NULL)
  describe_srcref(ref, hit[1])
}

# sprintf's %d, not paste0: a port's options(scipen, OutDec) would write
# line 13 as "1,3e+01".
describe_srcref <- function(ref, k) {
  sprintf(
    "%s:%d: %s", basename(utils::getSrcFilename(ref)),
    as.integer(ref[1] + k - 1), trimws(as.character(ref)[k])
  )
}
