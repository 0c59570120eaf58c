# A learner's R script, run as written: nnparity/scripts.py calls these
# functions through rpy2. The script is read with parse(), never as text: its
# training loop is found in the parse tree (the `for` call whose body assigns
# the article's matrices) and that call is replaced, as data, by a block that
#   1. puts the case's X, y, weights, biases and lr in place of the script's
#      own (its random initialisation has run; its values are overridden),
#   2. runs the loop body once per epoch of the case, unchanged,
#   3. records, at the end of every pass, each article matrix the body
#      assigned, and
#   4. stops the script when the loop ends (what follows prints or plots the
#      result; nnparity has what it needs).
# The hooks are function objects placed in the rewritten call itself, so no
# name of the script can hide them.

# Assignment operators whose left-hand side names the variable assigned.
script_assign_ops <- c("<-", "=", "<<-")

# The step list, nnparity/steps.csv (the one definition), as read.csv reads
# it: nnparity_script_steps() sets it when scripts.py sources this file.
script_step_list <- NULL

nnparity_script_steps <- function(file) {
  script_step_list <<- utils::read.csv(file)
  invisible(NULL)
}

# How the six matrices fit together as the article's network: cases.FITS
# (the one definition), set by nnparity_script_fits() when scripts.py sources
# this file. Each row: the size of `name` along `axis` must be that of `other`
# along `other_axis` (a bias's rows may also be 1).
script_fit_rules <- NULL

nnparity_script_fits <- function(name, axis, other, other_axis) {
  script_fit_rules <<- data.frame(
    name = name, axis = axis + 1L, other = other,
    other_axis = other_axis + 1L
  )
  invisible(NULL)
}

# Whether matrices of these dims (a list by article name; a name absent
# breaks no rule) break a rule of script_fit_rules; a bias may be held once
# per sample.
script_misfits <- function(dims) {
  rules <- split(script_fit_rules, seq_len(nrow(script_fit_rules)))
  any(vapply(rules, script_breaks, logical(1), dims = dims))
}

script_breaks <- function(rule, dims) {
  a <- dims[[rule$name]]
  b <- dims[[rule$other]]
  if (is.null(a) || is.null(b)) {
    return(FALSE)
  }
  size <- a[rule$axis]
  bias_rows <- rule$axis == 1 && script_is_bias(rule$name)
  size != b[rule$other_axis] && !(bias_rows && size == 1)
}

# The weights and biases training starts from (step 1): wh, bh, wout, bout.
script_start_names <- function() {
  script_step_list$name[script_step_list$step == 1]
}

script_is_bias <- function(name) {
  name %in% script_step_list$name[script_step_list$bias]
}

# The variable a left-hand side assigns: `bh` for bh, bh[1, ] or dim(bh).
script_target <- function(lhs) {
  while (is.call(lhs)) lhs <- lhs[[2]]
  if (is.name(lhs)) as.character(lhs) else NA_character_
}

# Every name assigned anywhere in an expression (function bodies excluded:
# defining a function assigns nothing when it runs).
script_assigned <- function(expr) {
  if (!is.call(expr) || identical(expr[[1]], as.name("function"))) {
    return(character())
  }
  found <- script_assignment_target(expr)
  for (part in as.list(expr)[-1]) {
    if (!missing(part)) found <- c(found, script_assigned(part))
  }
  unique(found[!is.na(found)])
}

# The name an assignment call assigns, or nothing for any other call:
# `x <- value` (and its other operators), and assign("x", value, ...).
script_assignment_target <- function(expr) {
  head <- expr[[1]]
  is_assignment <- is.name(head) && length(expr) == 3 &&
    as.character(head) %in% script_assign_ops
  if (is_assignment) return(script_target(expr[[2]]))
  named <- identical(head, as.name("assign")) && length(expr) >= 3 &&
    is.character(expr[[2]]) && length(expr[[2]]) == 1
  if (named) expr[[2]] else character()
}

# The article's name of each script name (the map comes from Python).
script_article_names <- function(names, map) {
  article <- ifelse(names %in% names(map), map[names], names)
  unname(article)
}

# Every loop in an expression tree: its path (indices into the tree), kind,
# depth and the names its body assigns.
script_loops <- function(expr, path = integer(), depth = 0L) {
  if (!is.call(expr)) {
    return(list())
  }
  head <- expr[[1]]
  found <- list()
  if (is.name(head)) {
    kind <- as.character(head)
    if (kind == "function") {
      return(list())
    }
    if (kind %in% c("for", "while", "repeat")) {
      body <- expr[[length(expr)]]
      found <- list(list(
        path = path, kind = kind, depth = depth,
        assigned = script_assigned(body)
      ))
      depth <- depth + 1L
    }
  }
  for (i in seq_along(expr)[-1]) {
    part <- expr[[i]]
    if (!missing(part)) {
      found <- c(found, script_loops(part, c(path, i), depth))
    }
  }
  found
}

# The first line of top-level expression `top` and of the sub-expression at
# `path` inside it, as far as srcrefs are kept.
script_line <- function(exprs, top, path = integer()) {
  line <- as.integer(attr(exprs, "srcref")[[top]])[1]
  expr <- exprs[[top]]
  for (i in path) {
    refs <- attr(expr, "srcref")
    if (!is.null(refs) && i <= length(refs) && !is.null(refs[[i]])) {
      line <- as.integer(refs[[i]])[1]
    }
    expr <- expr[[i]]
  }
  line
}

# Parse the script and find its training loop. Returns list(problem = text),
# list(refusal = facts) (a refusal's kind and facts, which scripts.py words as
# for a Python script) or list(exprs, top, path, line, assigned, article,
# body_lines).
nnparity_script_plan <- function(file, from, to, article) {
  map <- stats::setNames(to, from)
  exprs <- tryCatch(
    parse(file, keep.source = TRUE),
    error = function(e) e
  )
  if (inherits(exprs, "error")) {
    why <- gsub("\\s+", " ", trimws(conditionMessage(exprs)))
    return(list(problem = paste("R cannot parse it:", why)))
  }
  loops <- script_all_loops(exprs, map, article)
  missing <- script_missing_loop(exprs, loops, map, article)
  if (is.character(missing)) {
    return(list(problem = missing))
  }
  if (!is.null(missing)) {
    return(list(refusal = missing))
  }
  counts <- vapply(loops, function(l) length(l$article), integer(1))
  # The loop assigning most of the article's matrices; on a tie the innermost,
  # whose one pass computes them once: an epoch (a loop around it that prints
  # every 1000 epochs only repeats it).
  depths <- vapply(loops, function(l) l$depth, integer(1))
  best <- loops[[order(-counts, -depths)[1]]]
  trains <- script_training_loops(loops, best)
  if (length(trains) > 1) {
    return(list(refusal = list(kind = "two_loops", lines = trains)))
  }
  refusal <- script_loop_refusal(exprs, loops, best, map)
  if (!is.null(refusal)) {
    return(list(refusal = refusal))
  }
  best$over_data <- script_over_data(exprs, best, map)
  held <- script_held_in_objects(exprs, best)
  if (length(held) > 0) {
    return(list(problem = script_held_problem(best$line, held)))
  }
  taken <- script_taken_from_objects(exprs, best, map)
  if (length(taken) > 0) {
    return(list(problem = script_taken_problem(taken)))
  }
  best$body_lines <- script_body_lines(exprs, best, map, article)
  best$init_lines <- script_init_lines(
    exprs, best, map, script_start_names()
  )
  best$damage <- script_damage(exprs, best, map, article)
  best$carried <- script_carried(exprs, best, map, article)
  best$aliases <- script_aliases(as.list(exprs)[seq_len(best$top - 1)], map)
  best$data_set <- script_data_set(exprs, best, map)
  best$derived <- script_data_unread(exprs, best, map)
  best$reads <- script_loop_reads(exprs, best)
  best$problem <- NULL
  best
}

# X or y set in a top-level expression before the loop: for each, the index
# and line of the first, and the lines and code of the others (the script's
# changes, refused if its values at the loop differ from the first's, whatever
# changed them: scripts.py's data_changed).
script_data_set <- function(exprs, loop, map) {
  before <- as.list(exprs)[seq_len(loop$top - 1)]
  found <- list()
  for (name in c("X", "y")) {
    sets <- which(vapply(before, function(e) {
      name %in% script_article_names(script_assigned(e), map)
    }, logical(1)))
    if (length(sets) < 1) next
    later <- sets[-1]
    found[[name]] <- list(
      first = sets[1], first_line = script_line(exprs, sets[1]),
      lines = vapply(later, function(i) script_line(exprs, i), integer(1)),
      code = vapply(later, function(i) {
        paste(deparse(exprs[[i]], width.cutoff = 500L), collapse = " ")
      }, character(1))
    )
  }
  found
}

# The names the chosen loop's body reads.
script_loop_reads <- function(exprs, loop) {
  expr <- exprs[[loop$top]]
  for (i in loop$path) expr <- expr[[i]]
  all.names(expr[[4]])
}

# X or y under the names the loop reads it by: the script's own (and its
# --names), and those set from it as it is before the loop (inputs <- X).
script_data_names <- function(loop, map, name) {
  aliases <- loop$aliases$from[loop$aliases$to == name]
  unique(c(names(map)[map == name], aliases, name))
}

# A loop computing a step that reads X or y (hidden_layer_input, E) while it
# reads neither under any of its names, nor do the script's functions: the
# refusal's facts (scripts.py's data_never_read), with what it reads instead,
# made from it before the loop; or NULL.
script_data_unread <- function(exprs, loop, map) {
  expr <- exprs[[loop$top]]
  for (i in loop$path) expr <- expr[[i]]
  reads <- c(all.names(expr[[4]]), script_function_reads(exprs))
  steps <- script_step_list[script_step_list$name %in% loop$article &
                              script_step_list$step > 1, ]
  for (name in c("X", "y")) {
    theirs <- script_data_names(loop, map, name)
    needs <- any(grepl(paste0("\\b", name, "\\b"), steps$inputs))
    if (!needs || any(theirs %in% reads)) next
    made <- script_made_from(exprs, loop$top, all.names(expr[[4]]), theirs, map)
    return(list(
      kind = "data_unread", line = loop$line, theirs = theirs[length(theirs)],
      name = name, targets = names(made),
      made = paste0(names(made), " (line ", unlist(made), ")")[seq_along(made)]
    ))
  }
  NULL
}

# The names the loop reads (`reads`) that top-level code before it sets from
# one of `theirs` (Xs <- X / 2), none of the article's: name -> line.
script_made_from <- function(exprs, top, reads, theirs, map) {
  made <- list()
  for (i in seq_len(top - 1)) {
    set <- intersect(script_assigned(exprs[[i]]), reads)
    set <- set[!script_article_names(set, map) %in% script_step_list$name]
    from <- any(theirs %in% all.names(exprs[[i]][-2]))
    if (length(set) && from) made[set] <- script_line(exprs, i)
  }
  made
}

# The parts of objects (net$wh, net[["wh"]], obj@wh) the chosen loop assigns,
# when it assigns no weight under a plain name; else nothing.
script_held_in_objects <- function(exprs, loop) {
  if (any(script_start_names() %in% loop$article)) return(character())
  expr <- exprs[[loop$top]]
  for (i in loop$path) expr <- expr[[i]]
  unique(script_object_targets(expr[[4]]))
}

script_held_problem <- function(line, held) {
  paste0(
    "line ", line, ": its loop updates no weight under a plain name but ",
    "parts of objects (", paste(held, collapse = ", "), "): nnparity puts ",
    "the case's weights in plain names (wh, bh, wout, bout, or those --names ",
    "maps), so it cannot start this loop from them; to check it, train ",
    "plain names in the loop (wh = net$wh before it, net$wh = wh after it)"
  )
}

# The statements of the chosen loop's body that take a weight from a part of
# an object (wh = params$wh, bh <- net[["bh"]], wout = obj@wout) before the
# pass has read that weight: each pass then starts from the object, not from
# the weights nnparity puts in before the loop. A list of list(line, text).
script_taken_from_objects <- function(exprs, loop, map) {
  expr <- exprs[[loop$top]]
  for (i in loop$path) expr <- expr[[i]]
  body <- expr[[4]]
  statements <- if (is.call(body) && identical(body[[1]], as.name("{"))) {
    as.list(body)[-1]
  } else {
    list(body)
  }
  lines <- lapply(attr(body, "srcref")[-1], function(ref) ref[1])
  read <- character()
  taken <- list()
  for (k in seq_along(statements)) {
    e <- statements[[k]]
    if (script_takes_part(e, map, read)) {
      line <- if (length(lines) >= k) lines[[k]] else loop$line
      taken[[length(taken) + 1]] <- list(
        line = line, text = paste(deparse(e), collapse = "")
      )
    }
    read <- c(read, all.names(e))
  }
  taken
}

# Whether `e` assigns a weight (under its script name) a part of an object,
# the weight not yet among the names the pass has `read`.
script_takes_part <- function(e, map, read) {
  if (!script_assigns_name(e)) return(FALSE)
  name <- as.character(e[[2]])
  weight <- script_article_names(name, map) %in% script_start_names()
  weight && script_is_part(e[[3]]) && !name %in% read
}

# Whether `e` is `name <- value` (or =, <<-) with a plain name on the left.
script_assigns_name <- function(e) {
  is.call(e) && is.name(e[[1]]) && length(e) == 3 &&
    as.character(e[[1]]) %in% script_assign_ops && is.name(e[[2]])
}

# Whether `value` is a part of an object: x$a, x[["a"]], x@a.
script_is_part <- function(value) {
  is.call(value) && is.name(value[[1]]) &&
    as.character(value[[1]]) %in% c("$", "[[", "@")
}

script_taken_problem <- function(taken) {
  first <- taken[[1]]
  shown <- vapply(taken, function(t) t$text, "")
  paste0(
    "line ", first$line, ": its loop takes weights from parts of objects ",
    "at the start of each pass (", paste(shown, collapse = "; "), "): ",
    "nnparity puts the case's weights in plain names before the loop, and ",
    "each pass replaces them with the object's; to check it, take them once ",
    "before the loop and train the plain names in it (the object set from ",
    "them after it)"
  )
}

# The object parts assigned anywhere in `e` (function bodies left out).
script_object_targets <- function(e) {
  if (!is.call(e) || identical(e[[1]], as.name("function"))) return(character())
  found <- script_part_assigned(e)
  for (part in as.list(e)[-1]) {
    if (!missing(part)) found <- c(found, script_object_targets(part))
  }
  found
}

# The part of an object a call assigns (x$a <- v, x[["a"]] = v, x@a <- v).
script_part_assigned <- function(e) {
  assigns <- is.name(e[[1]]) && as.character(e[[1]]) %in% script_assign_ops &&
    length(e) == 3
  if (!assigns) return(character())
  target <- e[[2]]
  part <- is.call(target) && is.name(target[[1]]) &&
    as.character(target[[1]]) %in% c("$", "[[", "@")
  if (part) paste(deparse(target), collapse = "") else character()
}

# Why the chosen loop cannot be run as the training loop, or NULL: it is no
# `for` loop, or a loop around it changes what it trains from.
script_loop_refusal <- function(exprs, loops, best, map) {
  if (best$kind != "for") {
    return(list(kind = "not_for", line = best$line, loop_kind = best$kind))
  }
  rounds <- script_changing_rounds(exprs, loops, best, map)
  if (!is.null(rounds)) return(rounds)
  best$aliases <- script_aliases(as.list(exprs)[seq_len(best$top - 1)], map)
  unread <- script_data_unread(exprs, best, map)
  # names made from X the loop reads instead get the case's if they hold its
  # numbers (script_check_derived); with none, refused here
  if (!is.null(unread) && length(unread$targets) == 0) unread
}

# A loop around the training loop may only repeat it (printing the error every
# 1000 epochs): nnparity runs the training loop once, over the case's epochs,
# and stops the script when it ends, so what a loop around it does between its
# runs (new random weights, a smaller lr) would never run. The refusal's facts
# (worded in scripts.py, changing_rounds), or NULL: a statement of a loop
# around it, outside it, assigning a weight, bias, X, y or lr, or a name the
# training loop's article matrices read from before it.
script_changing_rounds <- function(exprs, loops, best, map) {
  chosen <- exprs[[best$top]]
  for (i in best$path) chosen <- chosen[[i]]
  statements <- script_statements(chosen[[4]])
  inner <- script_assigned(chosen[[4]])
  matrices <- Filter(function(e) {
    names <- script_article_names(script_assigned(e), map)
    any(names %in% script_step_list$name)
  }, statements)
  reads <- unique(unlist(lapply(matrices, all.names)))
  inputs <- c("X", "y", script_start_names(), "lr")
  trains <- function(names) {
    names[script_article_names(names, map) %in% inputs |
            (names %in% reads & !names %in% inner)]
  }
  around <- Filter(function(l) {
    l$top == best$top && length(l$path) < length(best$path) &&
      identical(best$path[seq_along(l$path)], l$path)
  }, loops)
  for (outer in around) {
    # the loop around, with the training loop taken out of it
    stripped <- script_replace(exprs[[best$top]], best$path, quote(NULL))
    for (i in outer$path) stripped <- stripped[[i]]
    changed <- trains(script_assigned(stripped[[length(stripped)]]))
    if (length(changed) > 0) {
      return(list(
        kind = "rounds", line = outer$line, loop_line = best$line,
        changed = unique(changed)
      ))
    }
  }
  NULL
}

# The statements of a loop's body: those of its { }, or the one it is.
script_statements <- function(body) {
  if (is.call(body) && identical(body[[1]], as.name("{"))) {
    as.list(body)[-1]
  } else {
    list(body)
  }
}

# Whether the chosen loop's sequence reads X or y (1:nrow(X), seq_along(y)):
# with as many passes as X has rows, per-sample training (rec$written).
script_over_data <- function(exprs, loop, map) {
  expr <- exprs[[loop$top]]
  for (i in loop$path) expr <- expr[[i]]
  read <- all.names(expr[[3]])
  any(script_article_names(read, map) %in% c("X", "y"))
}

# The names the loop carries from epoch to epoch that are not the article's
# (nor mapped to one): set before the loop, in the order the script sets them,
# and assigned again in its body. Weights under other names, if the script
# never assigns the article's.
script_carried <- function(exprs, loop, map, article) {
  before <- unlist(lapply(as.list(exprs)[seq_len(loop$top - 1)],
                          script_assigned))
  expr <- exprs[[loop$top]]
  for (i in loop$path) expr <- expr[[i]]
  counter <- as.character(expr[[2]])
  carried <- setdiff(intersect(unique(before), loop$assigned), counter)
  known <- c(article, script_start_names(), "X", "y", "lr", "epochs")
  carried[!script_article_names(carried, map) %in% known]
}

# Names the script sets before its loop from another name (W2 = wout; also
# inside `{ }`): list(from = its names, to = the article's names of their
# sources).
script_aliases <- function(exprs, map) {
  statements <- unlist(lapply(exprs, function(expr) {
    braced <- is.call(expr) && identical(expr[[1]], as.name("{"))
    if (braced) as.list(expr)[-1] else list(expr)
  }), recursive = FALSE)
  simple <- Filter(script_is_alias, statements)
  list(
    from = vapply(simple, function(e) as.character(e[[2]]), character(1)),
    to = script_article_names(
      vapply(simple, function(e) as.character(e[[3]]), character(1)), map
    )
  )
}

# Whether a statement sets a name from another name: W2 = wout, W2 <- wout.
script_is_alias <- function(e) {
  if (!is.call(e) || length(e) != 3) return(FALSE)
  plain <- c(
    deparse(e[[1]]) %in% c("<-", "="), is.name(e[[2]]), is.name(e[[3]])
  )
  all(plain)
}

# The first lines of every loop that trains (updates every weight and bias),
# the chosen one included; a loop inside another that qualifies is part of it.
script_training_loops <- function(loops, best) {
  trains <- Filter(function(l) {
    identical(l, best) || all(script_start_names() %in% l$article)
  }, loops)
  inside <- function(l, other) {
    l$top == other$top && length(other$path) < length(l$path) &&
      identical(l$path[seq_along(other$path)], other$path)
  }
  outer <- Filter(function(l) {
    !any(vapply(trains, function(other) inside(l, other), logical(1)))
  }, trains)
  sort(vapply(outer, function(l) l$line, integer(1)))
}

# Every loop of the script, with its top-level expression, first line and the
# article's names its body assigns.
script_all_loops <- function(exprs, map, article) {
  loops <- list()
  for (top in seq_along(exprs)) {
    for (loop in script_loops(exprs[[top]])) {
      loop$top <- top
      loop$line <- script_line(exprs, top, loop$path)
      loop$article <- intersect(
        script_article_names(loop$assigned, map), article
      )
      loops <- c(loops, list(loop))
    }
  }
  loops
}

# Why no loop of the script's top-level code can be its training loop, or
# NULL: none at all, none assigning the article's matrices, or the one that
# does is in a function.
script_missing_loop <- function(exprs, loops, map, article) {
  counts <- vapply(loops, function(l) length(l$article), integer(1))
  if (length(loops) > 0 && max(counts) > 0) return(NULL)
  inside <- script_loop_in_function(exprs, map, article)
  if (!is.null(inside)) return(inside)
  if (length(loops) == 0) return(list(kind = "no_loop"))
  called <- script_loop_calls_assigning(exprs, loops, map, article)
  if (!is.null(called)) called else script_no_article_names(loops)
}

# A loop whose body computes the article's matrices in functions it calls,
# which assign them themselves (output <<- ...): the refusal's facts (worded in
# scripts.py, computed_in_functions), or NULL.
script_loop_calls_assigning <- function(exprs, loops, map, article) {
  assigning <- script_functions_assigning(exprs, map, article)
  for (loop in loops) {
    expr <- exprs[[loop$top]]
    for (i in loop$path) expr <- expr[[i]]
    called <- intersect(all.names(expr), names(assigning))
    if (length(called) == 0) next
    return(list(
      kind = "called", line = loop$line, called = called,
      matrices = unique(unlist(assigning[called]))
    ))
  }
  NULL
}

# The script's top-level functions (name <- function ...) whose bodies assign
# the article's matrices: name -> those matrices.
script_functions_assigning <- function(exprs, map, article) {
  assigning <- list()
  for (e in as.list(exprs)) {
    defines <- script_assigns_name(e) && is.call(e[[3]]) &&
      identical(e[[3]][[1]], as.name("function"))
    if (!defines) next
    names <- script_article_names(script_assigned(e[[3]][[3]]), map)
    found <- intersect(names, article)
    if (length(found) > 0) assigning[[as.character(e[[2]])]] <- found
  }
  assigning
}

# A script whose only loop assigning the article's matrices is in a function
# (train <- function() { for ... }): the refusal saying so, or NULL. nnparity
# runs the loop of an R script's top-level code, where the script's global
# environment holds what it computes.
script_loop_in_function <- function(exprs, map, article) {
  for (top in seq_along(exprs)) {
    for (body in script_function_bodies(exprs[[top]])) {
      found <- Filter(function(l) {
        any(script_article_names(l$assigned, map) %in% article)
      }, script_loops(body))
      if (length(found) == 0) next
      e <- exprs[[top]]
      name <- if (script_assigns_name(e)) {
        paste0(" (", as.character(e[[2]]), ")")
      } else {
        ""
      }
      return(paste0(
        "line ", script_line(exprs, top), ": the training loop is inside a ",
        "function", name, ": nnparity runs the loop of an R script's own ",
        "top-level code, not one in a function; move the loop out of the ",
        "function, to the script's top level"
      ))
    }
  }
  NULL
}

# The bodies of the functions defined anywhere in an expression.
script_function_bodies <- function(e) {
  if (!is.call(e)) return(list())
  if (identical(e[[1]], as.name("function"))) {
    return(c(list(e[[3]]), script_function_bodies(e[[3]])))
  }
  found <- list()
  for (part in as.list(e)[-1]) {
    if (!missing(part)) found <- c(found, script_function_bodies(part))
  }
  found
}

# The loops of a script none of which assigns the article's matrices, each
# with what it assigns (worded in scripts.py, no_article_names).
script_no_article_names <- function(loops) {
  list(
    kind = "no_names",
    lines = vapply(loops, function(l) l$line, integer(1)),
    # flat, each loop's names one after another, with their counts
    assigned = as.character(unlist(lapply(loops, function(l) l$assigned))),
    counts = vapply(loops, function(l) length(l$assigned), integer(1))
  )
}

# For each statement of the loop body that assigns an article matrix: the
# article name, its first and last line (for `nnparity explain`), as three
# vectors of one length.
script_body_lines <- function(exprs, loop, map, article) {
  expr <- exprs[[loop$top]]
  for (i in loop$path) expr <- expr[[i]]
  body <- expr[[4]]
  if (!is.call(body) || !identical(body[[1]], as.name("{"))) {
    return(script_statement_lines(list(), NULL, map, article))
  }
  refs <- attr(body, "srcref")
  script_statement_lines(as.list(body)[-1], refs[-1], map, article)
}

# The same for the top-level statements before the loop that assign the
# weights and biases (step 1: the script's own start, which the case's
# replaces).
script_init_lines <- function(exprs, loop, map, state) {
  before <- seq_len(loop$top - 1)
  refs <- attr(exprs, "srcref")[before]
  script_statement_lines(as.list(exprs)[before], refs, map, state)
}

script_statement_lines <- function(statements, refs, map, article) {
  rows <- list(name = character(), first = integer(), last = integer())
  for (i in seq_along(statements)) {
    names <- script_article_names(script_assigned(statements[[i]]), map)
    names <- intersect(names, article)
    if (length(names) == 0 || is.null(refs[[i]])) next
    lines <- as.integer(refs[[i]])[c(1, 3)]
    rows$name <- c(rows$name, names)
    rows$first <- c(rows$first, rep(lines[1], length(names)))
    rows$last <- c(rows$last, rep(lines[2], length(names)))
  }
  rows
}

# The article's web page lost the `*` of `%*%`: its R reads `X%%wh` (the
# remainder) and `d_output**t(wout)` (which R reads as a power). Each such
# call in the loop body, as "line N: code", for the error message.
script_damage <- function(exprs, loop, map, article) {
  expr <- exprs[[loop$top]]
  for (i in loop$path) expr <- expr[[i]]
  body <- expr[[4]]
  refs <- attr(body, "srcref")
  if (is.null(refs) || !identical(body[[1]], as.name("{"))) {
    return(character())
  }
  found <- character()
  for (i in seq_along(body)[-1]) {
    for (call in script_damaged_calls(body[[i]], map, article)) {
      found <- c(found, paste0(
        "line ", as.integer(refs[[i]])[1], ": ",
        paste(deparse(call, nlines = 1), collapse = "")
      ))
    }
  }
  found
}

# `a %% b` and `a ** b` (read as a power) where a product of matrices was
# meant: both operands one of the article's matrices, or its t() (X%%wh,
# d_output**t(wout)); not `i %% 1000`, `E**2`, `E %% nrow(X)` nor `output**lr`.
script_damaged_calls <- function(expr, map, article) {
  if (!is.call(expr)) {
    return(list())
  }
  found <- if (script_is_damaged(expr, map, article)) list(expr) else list()
  for (part in as.list(expr)[-1]) {
    if (!missing(part)) {
      found <- c(found, script_damaged_calls(part, map, article))
    }
  }
  found
}

script_is_damaged <- function(call, map, article) {
  head <- call[[1]]
  operator <- is.name(head) && length(call) == 3 &&
    as.character(head) %in% c("%%", "^")
  operator && script_is_matrix(call[[2]], map, article) &&
    script_is_matrix(call[[3]], map, article)
}

# An article matrix by name (its own or --names'), or t() or ( ) of one.
script_is_matrix <- function(e, map, article) {
  if (is.name(e)) {
    named <- script_article_names(as.character(e), map)
    return(named %in% c(article, "X", "y"))
  }
  wraps <- is.call(e) && length(e) == 2 && is.name(e[[1]]) &&
    as.character(e[[1]]) %in% c("t", "(")
  wraps && script_is_matrix(e[[2]], map, article)
}

# Replace the sub-expression at `path` of `expr` by `value`.
script_replace <- function(expr, path, value) {
  if (length(path) == 0) {
    return(value)
  }
  expr[[path[1]]] <- script_replace(expr[[path[1]]], path[-1], value)
  expr
}

# A recorder: the hooks the rewritten loop calls, and what they keep.
script_recorder <- function(inputs, epochs, from, to, assigned, article,
                            carried = character()) {
  rec <- new.env(parent = emptyenv())
  rec$phase <- "before"
  rec$count <- 0L
  # One binding per matrix, so that recording an epoch writes in place.
  rec$trace <- new.env(parent = emptyenv())
  map <- stats::setNames(to, from)
  recorded <- stats::setNames(
    assigned, script_article_names(assigned, map)
  )
  recorded <- recorded[names(recorded) %in% article]
  rec$recorded <- recorded
  rec$resized <- character()
  rec$given <- list()
  # The script's own lr and number of epochs, where the case's replaced them.
  rec$notes <- character()
  # The loop's own sequence as written, evaluated as R's for() would (`seq`, a
  # promise: object 'epochs' not found is the script's error before its loop);
  # then a note of its length.
  rec$over_data <- FALSE # the loop's sequence reads X or y
  rec$nested <- FALSE # the loop runs inside another
  rec$loop_text <- ""
  rec$written <- function(seq, env) {
    # the calls an error of the sequence's own is made in here: R says it at the
    # loop's line without them (object 'epochs' not found)
    ours <- list(sys.call(), quote(for (pass in value) break))
    as_scripts <- function(error) {
      call <- conditionCall(error)
      own <- any(vapply(ours, identical, logical(1), call)) ||
        (is.call(call) && identical(call[[1]], quote(withCallingHandlers)))
      if (own) {
        error$call <- NULL
        stop(error)
      }
    }
    withCallingHandlers(
      {
        value <- seq
        for (pass in value) break # R's own test of a for() loop sequence
      },
      error = as_scripts
    )
    count <- length(value)
    rec$own_seq <- value
    script_check_per_sample(rec, count, script_own_value(env, "X", map))
    rec$written_count <- count
    if (count != epochs) {
      rec$notes <- c(rec$notes, paste0(
        "loop runs ", count, " epochs as written; nnparity ran ", epochs
      ))
    }
  }
  rec$first_data <- list()
  rec$first <- function(name, env) {
    own <- script_own_value(env, name, map)
    rec$first_data[[name]] <- script_numbers(own)
  }
  rec$derived <- NULL
  rec$inject <- function(env) {
    script_check_derived(env, rec$derived, map)
    script_check_data_changed(env, rec$first_data, map)
    matrices <- setdiff(names(inputs), "lr")
    script_check_named(env, matrices, map, carried, names(rec$recorded))
    rec$notes <- c(rec$notes, script_lr_note(env, inputs$lr, map, rec))
    own <- script_own_dims(env, matrices, map)
    injected <- script_inject(env, inputs, map)
    script_check_fit(own)
    rec$resized <- injected$resized
    rec$given <- injected$given
    rec$vector_rows <- injected$vector_rows
    rec$phase <- "inside"
  }
  # The values the loop's counter takes over the case's epochs: as the
  # script's own sequence counts (2:epoch from 2, seq(0, 4998, by = 2) by 2),
  # for as many passes as the case has epochs; from 1 by 1 when it does not
  # count by a fixed step (as scripts.py's _Hooks.passes).
  rec$own_seq <- NULL
  rec$passes <- function() script_passes(rec$own_seq, epochs)
  rec$line <- NA_integer_
  rec$at <- function(line) rec$line <- line
  script_track_early(rec)
  rec$record <- function(env) {
    rec$count <- rec$count + 1L
    for (name in names(recorded)) {
      script_record_one(rec, name, recorded[[name]], env, epochs)
    }
    # A weight or bias the loop updates without assigning it in its own body
    # (a helper's `wh <<- ...`) is recorded too, under the name the case's
    # value was put in: its update is compared, never left "not computed" (as
    # scripts.py's _Hooks.enter).
    for (name in setdiff(script_start_names(), names(recorded))) {
      target <- script_own_name(env, name, map)
      if (!is.null(target)) script_record_one(rec, name, target, env, epochs)
    }
    rec$early <- list()
    rec$updating <- FALSE
  }
  rec$done <- function() {
    rec$phase <- "after"
    stop(structure(
      class = c("nnparity_loop_done", "condition"),
      list(message = "the training loop ended", call = NULL)
    ))
  }
  rec
}

script_passes <- function(own, epochs) {
  counted <- seq_len(epochs)
  step <- script_step_of(own)
  if (is.null(step)) return(counted)
  values <- own[1] + step * (counted - 1)
  fits <- is.integer(own) && max(abs(values)) <= .Machine$integer.max
  if (fits) as.integer(values) else values
}

# The step a loop's sequence counts by (whole numbers, one step between all),
# or NULL.
script_step_of <- function(own) {
  if (!is.numeric(own) || length(own) == 0 || anyNA(own)) return(NULL)
  step <- if (length(own) > 1) own[2] - own[1] else 1
  whole <- step != 0 && step == round(step) && own[1] == round(own[1])
  if (whole && all(diff(own) == step)) step else NULL
}

# Stop the script ("nnparity_per_sample") when its loop makes one pass per
# sample of its own X, its sequence read from X or y or inside another loop:
# per-sample training, one update per sample, not the article's full batch.
script_check_per_sample <- function(rec, count, own_x) {
  rows <- if (is.null(own_x)) NA else NROW(own_x)
  # seq(1, nrow(X), by = 2): fewer passes than samples, read from them
  # (1:(nrow(X) * 1000) counts epochs); worded in scripts.py (per_sample)
  batches <- isTRUE(count < rows) && rec$over_data
  samples <- isTRUE(count == rows) && (rec$over_data || rec$nested)
  if (!batches && !samples) return(invisible())
  stop(structure(
    class = c("nnparity_per_sample", "condition"),
    list(
      call = NULL, message = "per-sample training", loop_text = rec$loop_text,
      passes = as.integer(count), rows = if (batches) as.integer(rows)
    )
  ))
}

# Each step's matrix as the pass computed it for its updates (rec$early): its
# last value before the first statement that assigns a weight, or, first
# assigned after one (an update made too early), its first value after it;
# not one assigned again later for a printout. Weights: the pass's end.
script_track_early <- function(rec) {
  rec$early <- list()
  rec$updating <- FALSE
  # at the pass's first weight update, the step matrices assigned so far are
  # taken as they are now (one filled in place after it was assigned, column
  # by column in an inner loop, included)
  rec$update <- function(env) {
    if (!rec$updating) {
      for (name in names(rec$early)) {
        target <- rec$recorded[[name]]
        if (exists(target, envir = env)) {
          rec$early[[name]] <- get(target, envir = env)
        }
      }
    }
    rec$updating <- TRUE
  }
  rec$assigned <- function(name, value) {
    if (is.numeric(value) && (!rec$updating || is.null(rec$early[[name]]))) {
      rec$early[[name]] <- value
    }
  }
  invisible(rec)
}

# Stop the script ("nnparity_unnamed") when it never assigns a weight or bias
# under any of its names, so the case's has nowhere to go, while its loop
# carries numbers under names not the article's: its weights, unmapped.
# scripts.py words the refusal (as for a Python script).
# Its weights set before the loop that the loop never assigns (`trained`: the
# article's names it assigns) are stopped for the same reason: the case's,
# put there, would not train.
script_check_named <- function(env, names, map, carried, trained) {
  has <- function(name) {
    any(vapply(c(names(map)[map == name], name), exists, logical(1),
               envir = env))
  }
  missing <- names[!vapply(names, has, logical(1))]
  weights <- script_start_names()
  untrained <- setdiff(intersect(weights, setdiff(names, missing)), trained)
  carried <- carried[vapply(carried, function(n) {
    exists(n, envir = env) && is.numeric(get(n, envir = env))
  }, logical(1))]
  if (!any(missing %in% weights)) {
    # weights set and left alone (updated by a helper, say): only arrays of
    # their dimensions stand for them (not a history of losses the loop fills)
    dims <- lapply(untrained, function(name) {
      dim(script_own_value(env, name, map))
    })
    carried <- Filter(function(n) {
      any(vapply(dims, identical, logical(1), dim(get(n, envir = env))))
    }, carried)
  }
  unmoved <- any(missing %in% weights) || length(untrained) > 0
  if (!unmoved || length(carried) == 0) {
    return(invisible())
  }
  stop(structure(
    class = c("nnparity_unnamed", "condition"),
    list(
      message = "unnamed", call = NULL, missing = missing, carried = carried,
      untrained = untrained
    )
  ))
}

# The dims of the script's own matrices (a plain vector is a column, as %*%
# and recycling read it, but a bias's is its one row, as the case's is put in
# its place: script_layout; a number fits anything) and the script's names.
script_own_dims <- function(env, names, map) {
  dims <- list()
  theirs <- list()
  for (name in names) {
    for (target in c(names(map)[map == name], name)) {
      if (!exists(target, envir = env)) next
      own <- get(target, envir = env)
      if (is.matrix(own)) {
        dims[[name]] <- dim(own)
      } else if (is.numeric(own) && length(own) > 1) {
        dims[[name]] <- if (script_is_bias(name)) {
          own_x <- script_own_value(env, "X", map)
          script_vector_bias_dims(own, own_x, script_bias_cols(env, name, map))
        } else {
          c(length(own), 1L)
        }
      }
      if (!is.null(dims[[name]])) theirs[[name]] <- target
      break
    }
  }
  list(dims = dims, theirs = theirs)
}

# The shape a bias held as a plain vector computes as: a row (runif(3), which
# sweep() adds to each row) when it has as many numbers as its weight has
# columns (`cols`); else, its length a multiple of X's rows, one per sample
# and column, as `+` recycles it down the columns (rep(b, nrow(X)) for one
# output, rep(b, each = nrow(X))).
script_vector_bias_dims <- function(own, own_x, cols) {
  if (script_vector_per_sample(own, own_x, cols)) {
    return(as.integer(c(NROW(own_x), length(own) / NROW(own_x))))
  }
  c(1L, length(own))
}

# The columns of the script's own weight a bias goes with (wh's for bh,
# wout's for bout): a row of the bias holds that many numbers.
script_bias_cols <- function(env, name, map) {
  NCOL(script_own_value(env, if (name == "bh") "wh" else "wout", map))
}

# Whether a bias held as a plain vector holds one number per sample and
# column (script_vector_bias_dims()): the case's goes in so, and is recorded
# as rows x cols.
script_vector_per_sample <- function(own, own_x, cols) {
  script_plain_vector(own) && NROW(own_x) > 1 && length(own) != cols &&
    length(own) %% NROW(own_x) == 0
}

# Stop the script ("nnparity_misfit") when its own matrices do not fit
# together (script_misfits): as written it would stop, or compute something
# else than the article's network. scripts.py words the refusal.
script_check_fit <- function(own) {
  if (!script_misfits(own$dims)) {
    return(invisible())
  }
  stop(structure(
    class = c("nnparity_misfit", "condition"),
    list(message = "misfit", call = NULL, dims = own$dims, theirs = own$theirs)
  ))
}

# Put the case's matrices in place of the script's own, under the script's
# names. Returns list(given, resized): the values given (in the script's
# layout: steps 0 and 1 of its trace) and, for the error message of a script
# written for other sizes, each matrix whose shape the case changes.
# A value as a matrix of doubles (a data.frame's, a vector's, integers'), or
# NULL for one that holds no numbers.
script_numbers <- function(value) {
  tryCatch(as.matrix(value) + 0, error = function(e) NULL)
}

# Stop the script ("nnparity_data_changed") when its X or y holds other values
# at the loop than where it first set them (standardised, labels smoothed): the
# case's, put in their place, would train on other inputs than the script. A
# new layout (t(X), a selection of rows) or type of the same numbers is not.
script_check_data_changed <- function(env, first_data, map) {
  for (name in names(first_data)) {
    first <- first_data[[name]]
    now <- script_numbers(script_own_value(env, name, map))
    same_shape <- !is.null(first) && !is.null(now) &&
      identical(dim(first), dim(now))
    if (same_shape && !identical(as.vector(first), as.vector(now))) {
      stop(structure(
        class = c("nnparity_data_changed", "condition"),
        list(
          call = NULL, message = "data changed", name = name,
          theirs = script_own_name(env, name, map)
        )
      ))
    }
  }
}

# Stop the script ("nnparity_refusal") when a name its loop reads in place of
# X or y, made from it before the loop, holds other numbers than it: the case's
# would take their place (Xs <- X / 2); the same numbers (as.matrix(X)) run.
script_check_derived <- function(env, derived, map) {
  if (is.null(derived) || length(derived$targets) == 0) return(invisible())
  own <- setdiff(c(names(map)[map == derived$name], derived$name),
                 derived$targets)
  own <- own[vapply(own, exists, NA, envir = env)]
  data <- if (length(own)) get(own[1], envir = env) else NULL
  for (target in derived$targets) {
    copy <- script_numbers(get(target, envir = env))
    same <- !is.null(copy) && identical(as.vector(copy),
                                        as.vector(script_numbers(data)))
    if (!same) {
      stop(structure(
        class = c("nnparity_refusal", "condition"),
        list(call = NULL, message = "derived", facts = derived)
      ))
    }
  }
}

script_inject <- function(env, inputs, map) {
  own_x <- script_own_value(env, "X", map)
  resized <- character()
  given <- list()
  vector_rows <- list()
  # the script's own weights' columns, before the case's replace them
  cols <- list(
    bh = script_bias_cols(env, "bh", map),
    bout = script_bias_cols(env, "bout", map)
  )
  for (name in names(inputs)) {
    own <- script_own_value(env, name, map)
    per_sample <- script_is_bias(name) &&
      script_vector_per_sample(own, own_x, cols[[name]])
    value <- script_layout(
      name, inputs[[name]], own, own_x, nrow(inputs$X), per_sample
    )
    if (per_sample) vector_rows[[name]] <- nrow(inputs$X)
    # recorded as the loop's values are (script_record_one): a vector as a row,
    # or, held once per sample and column, rows x cols
    given[[name]] <- script_as_matrix(value, vector_rows[[name]])
    targets <- c(names(map)[map == name], name)
    used <- targets[vapply(targets, exists, logical(1), envir = env)]
    script_check_kinds(env, used, name, value)
    for (target in if (length(used)) used else name) {
      assign(target, script_as_own_kind(value, get0(target, envir = env)),
             envir = env)
    }
    if (is.matrix(own) && !identical(dim(own), dim(as.matrix(value)))) {
      resized <- c(resized, paste0(
        name, " ", paste(dim(value), collapse = " x "), " (the script's ",
        paste(dim(own), collapse = " x "), ")"
      ))
    }
  }
  list(given = given, resized = resized, vector_rows = vector_rows)
}

# A recorded value as a matrix: a plain vector as a row, or as `rows` rows
# when the script holds that bias once per sample as a plain vector.
script_as_matrix <- function(value, rows = NULL) {
  if (!is.null(dim(value))) return(value)
  matrix(value, nrow = if (is.null(rows)) 1 else rows)
}

# The script's own lr, where it differs from the case's, as a note.
script_lr_note <- function(env, lr, map, rec) {
  reads <- rec$reads
  lr_names <- c(names(map)[map == "lr"], "lr")
  sets <- Filter(function(set) set$target %in% lr_names, rec$sets)
  if (length(sets) > 0) {
    return(script_lr_set_note(sets[[1]], lr))
  }
  own_name <- script_own_name(env, "lr", map)
  if (is.null(own_name)) {
    return(script_no_lr_note(lr, script_rates(env, reads)))
  }
  others <- setdiff(script_rates(env, reads), own_name)
  read <- own_name %in% c(reads, rec$function_reads)
  if (!read && length(others) > 0) {
    return(script_unread_lr_note(own_name, lr, others))
  }
  own <- get(own_name, envir = env)
  same <- !is.numeric(own) || length(own) != 1 || isTRUE(own == lr)
  if (same) {
    return(character())
  }
  paste0(
    "lr is ", format(own, digits = 15), "; the case's ",
    format(lr, digits = 15), " was used"
  )
}

# A loop that assigns its learning rate itself each pass: from something else
# (lr <- config$lr: the case's is never used) or from itself (lr <- lr * 0.99:
# the case's is the first pass's only).
script_lr_set_note <- function(set, lr) {
  what <- if (set$reads_itself) "changes" else "sets"
  then <- if (set$reads_itself) "is the first pass's only" else "was not used"
  paste0(
    "learning rate: the loop ", what, " ", set$target, " itself each pass ",
    "(line ", set$line, ": ", set$text, "), so the case's ",
    format(lr, digits = 15), " ", then
  )
}

# The statements of a loop's body that assign a plain name, in order:
# list(target, line, text, reads_itself) each.
script_loop_sets <- function(body) {
  statements <- if (is.call(body) && identical(body[[1]], as.name("{"))) {
    as.list(body)[-1]
  } else {
    list(body)
  }
  refs <- attr(body, "srcref")[-1]
  sets <- list()
  for (k in seq_along(statements)) {
    e <- statements[[k]]
    if (!script_assigns_name(e)) next
    sets[[length(sets) + 1]] <- list(
      target = as.character(e[[2]]),
      line = if (length(refs) >= k) refs[[k]][1] else NA,
      text = paste(deparse(e), collapse = " "),
      reads_itself = as.character(e[[2]]) %in% script_names_read(e[[3]])
    )
  }
  sets
}

# The names an expression reads, a part's name (config$lr, obj@lr) aside.
script_names_read <- function(e) {
  if (is.name(e)) return(as.character(e))
  if (!is.call(e)) return(character())
  parts <- as.list(e)
  if (is.name(e[[1]]) && as.character(e[[1]]) %in% c("$", "@")) {
    parts <- parts[1:2]
  }
  present <- vapply(parts, function(part) !is.name(part) || nzchar(part), NA)
  unlist(lapply(parts[present], script_names_read))
}

# The names read inside the functions a script defines (a helper the loop
# calls can read its learning rate: update <- function(w, g) w + g * lr).
script_function_reads <- function(exprs) {
  found <- character()
  walk <- function(e) {
    if (!is.call(e)) return()
    if (identical(e[[1]], as.name("function"))) {
      found <<- c(found, all.names(e[[3]]))
    }
    for (part in as.list(e)[-1]) if (!missing(part)) walk(part)
  }
  for (e in as.list(exprs)) walk(e)
  unique(found)
}

# The names among `reads` (what the loop reads) holding a number that could be
# a learning rate: one finite double that is no whole number.
script_rates <- function(env, reads) {
  is_rate <- function(name) {
    if (!exists(name, envir = env, inherits = FALSE)) return(FALSE)
    value <- get(name, envir = env)
    is.double(value) && length(value) == 1 && is.finite(value) &&
      value != round(value)
  }
  Filter(is_rate, reads)
}

# A script naming no learning rate lr (nor --names): the case's cannot reach
# its loop, which trains with its own; a number the loop reads (`rates`) is
# named as the likely one.
script_no_lr_note <- function(lr, rates) {
  hint <- if (length(rates) > 0) {
    paste0(" (is it ", rates[1], "? say --names ", rates[1], "=lr)")
  } else {
    ""
  }
  paste0(
    "learning rate is its own: it names none lr, so the case's ",
    format(lr, digits = 15), " was not used", hint
  )
}

# A script whose lr (`own_name`) its loop never reads, while it reads another
# rate: the case's lr, put in `own_name`, did not reach the training.
script_unread_lr_note <- function(own_name, lr, rates) {
  paste0(
    "learning rate: the loop reads no ", own_name, ", so the case's ",
    format(lr, digits = 15), " put in ", own_name, " was not used (is it ",
    rates[1], "? say --names ", rates[1], "=lr)"
  )
}

# Stop the script (a "nnparity_refused" condition, no error of the script's)
# when its own value of a name the case replaces is of a kind that computes
# something else: a data.frame (%*% refuses it), not numbers, or a plain vector
# where the case's matrix is not a column (R recycles a vector down the
# columns; a 1 x 1 matrix does not recycle at all).
script_check_kinds <- function(env, targets, name, value) {
  if (name == "lr") {
    return(invisible())
  }
  for (target in targets) {
    script_check_kind(target, name, get(target, envir = env), value)
  }
}

script_check_kind <- function(target, name, own, value) {
  kind <- script_kind(own, as.matrix(value))
  if (is.null(kind)) {
    return(invisible())
  }
  stop(structure(
    class = c("nnparity_refused", "condition"),
    list(
      message = kind, call = NULL, target = target, name = name,
      dims = dim(as.matrix(value))
    )
  ))
}

# The case's value as the script holds its own: a data.frame of the script's
# columns (X read with read.csv, the loop converting it with as.matrix()), so
# the loop computes as written; else as it is.
script_as_own_kind <- function(value, own) {
  if (!is.data.frame(own)) return(value)
  frame <- as.data.frame(as.matrix(value))
  if (ncol(frame) == ncol(own)) names(frame) <- names(own)
  frame
}

script_kind <- function(own, value) {
  if (is.data.frame(own)) {
    return(NULL) # the case's goes in as a data.frame too (script_inject)
  }
  if (!is.numeric(own) && !is.logical(own)) {
    return(paste0("a ", class(own)[1], " (not numbers)"))
  }
  if (!is.null(dim(own)) && !is.matrix(own)) {
    return(paste0("an array of ", length(dim(own)), " dimensions"))
  }
  script_vector_kind(own, value)
}

# A plain vector computes as the case's matrix where that is a column; where
# it is one row (a bias), the case's goes in as a plain vector too
# (script_layout), so sweep(), colSums() and scalar arithmetic compute as
# the script wrote them.
script_vector_kind <- function(own, value) {
  column <- ncol(value) == 1 && nrow(value) > 1
  if (is.matrix(own) || column || nrow(value) == 1) {
    return(NULL)
  }
  numbers <- if (length(own) == 1) " number" else " numbers"
  paste0("a plain vector of ", length(own), numbers)
}

# A bias the script holds once per sample (nrow(X) rows, as the article's R
# does) gets the case's bias in that layout: n rows, every row the same; one
# it holds as a plain vector (runif(3)) gets the case's one row as a plain
# vector.
script_layout <- function(name, value, own, own_x, n, vector_per_sample) {
  if (!script_is_bias(name)) {
    return(value)
  }
  if (script_per_sample(own, own_x)) {
    return(matrix(rep(value, each = n), nrow = n))
  }
  if (vector_per_sample) {
    return(rep(as.vector(value), each = n)) # as rep(b, each = nrow(X)) lays it
  }
  if (script_plain_vector(own) && nrow(value) == 1) as.vector(value) else value
}

script_per_sample <- function(own, own_x) {
  is.matrix(own) && nrow(own) > 1 && NROW(own_x) == nrow(own)
}

script_plain_vector <- function(own) is.numeric(own) && is.null(dim(own))

# The script's current value of an article name (under any of its names).
script_own_value <- function(env, name, map) {
  own_name <- script_own_name(env, name, map)
  if (is.null(own_name)) NULL else get(own_name, envir = env)
}

# The script's name holding an article name (its --names one, or the same).
script_own_name <- function(env, name, map) {
  for (target in c(names(map)[map == name], name)) {
    if (exists(target, envir = env)) {
      return(target)
    }
  }
  NULL
}

script_record_one <- function(rec, name, target, env, epochs) {
  if (!is.null(rec$early[[name]])) {
    value <- rec$early[[name]]
  } else if (exists(target, envir = env)) {
    value <- get(target, envir = env)
  } else {
    return(invisible())
  }
  if (!is.numeric(value)) {
    stop(target, " is not numeric at the end of epoch ", rec$count,
         call. = FALSE)
  }
  value <- script_as_matrix(value, rec$vector_rows[[name]])
  if (is.null(rec$trace[[name]])) {
    rec$trace[[name]] <- array(NA_real_, c(epochs, dim(value)))
  }
  expected <- dim(rec$trace[[name]])[-1]
  if (!identical(as.integer(dim(value)), as.integer(expected))) {
    stop(
      target, " is ", paste(dim(value), collapse = " x "), " at the end of ",
      "epoch ", rec$count, " but was ", paste(expected, collapse = " x "),
      call. = FALSE
    )
  }
  rec$trace[[name]][rec$count, , ] <- value
}

# Each statement of every `{ }` block in `expr` (the loop body, and the
# blocks of its if, else and inner loops) preceded by a call noting its line,
# so that an error inside the loop names the line it stopped at. Function
# definitions and quoted code are left as they are.
script_mark_lines <- function(expr, at, track = NULL) {
  if (script_left_as_is(expr)) {
    return(expr)
  }
  if (identical(expr[[1]], as.name("{")) && !is.null(attr(expr, "srcref"))) {
    return(script_mark_block(expr, at, track))
  }
  for (i in seq_along(expr)[-1]) {
    part <- expr[[i]]
    if (!missing(part) && is.call(part)) { # a NULL assigned would drop it
      expr[[i]] <- script_mark_lines(part, at, track)
    }
  }
  expr
}

# What the rewritten body tells the recorder as it runs (rec$early): which
# statements assign a step's matrix (named by the script: its article name)
# and which a weight.
script_tracking <- function(rec) {
  weights <- names(rec$recorded) %in% script_start_names()
  list(
    steps = stats::setNames(names(rec$recorded)[!weights],
                            unlist(rec$recorded[!weights])),
    weights = unlist(rec$recorded[weights]),
    assigned = rec$assigned, update = rec$update
  )
}

# A statement of a block, with the recorder told around it (script_tracking):
# before it, that a weight is being updated; after it, the step's matrix it
# assigned.
script_tracked <- function(statement, track) {
  if (is.null(track)) return(list(statement))
  before <- list()
  if (any(script_assigned(statement) %in% track$weights)) {
    before <- list(as.call(list(track$update, quote(environment()))))
  }
  after <- list()
  target <- script_assignment_target(statement)
  if (length(target) == 1 && target %in% names(track$steps)) {
    after <- list(as.call(list(
      track$assigned, track$steps[[target]], as.name(target)
    )))
  }
  c(before, list(statement), after)
}

# Not code to mark: a constant or name, a function definition, quoted code.
script_left_as_is <- function(expr) {
  !is.call(expr) || (is.name(expr[[1]]) &&
    as.character(expr[[1]]) %in% c("function", "quote"))
}

script_mark_block <- function(block, at, track = NULL) {
  refs <- attr(block, "srcref")
  statements <- list()
  for (i in seq_along(block)[-1]) {
    line <- as.integer(refs[[i]])[1]
    statement <- script_mark_lines(block[[i]], at, track)
    statements <- c(
      statements, as.call(list(at, line)), script_tracked(statement, track)
    )
  }
  as.call(c(as.name("{"), statements))
}

script_close_connections <- function(open_before) {
  for (number in setdiff(getAllConnections(), open_before)) {
    try(close(getConnection(number)), silent = TRUE)
  }
}

# The training loop, rewritten: inject, the body then a record, and stop.
# Each statement of the body is preceded by a note of its line
# (script_mark_lines).
script_rewrite_loop <- function(loop, rec, epochs) {
  # the names the weights' updates read first (a learning rate's hint)
  weights <- unlist(rec$recorded[names(rec$recorded) %in% script_start_names()])
  updates <- Filter(function(statement) {
    any(script_assigned(statement) %in% weights)
  }, as.list(loop[[4]])[-1])
  rec$reads <- unique(c(
    unlist(lapply(updates, all.names)), all.names(loop[[4]])
  ))
  rec$sets <- script_loop_sets(loop[[4]])
  body <- script_mark_lines(loop[[4]], rec$at, script_tracking(rec))
  record <- as.call(list(rec$record, quote(environment())))
  # a pass that ends at a `next` (one skipping a printout) is recorded there
  body <- script_record_at_next(body, record)
  new_body <- as.call(list(as.name("{"), body, record))
  new_loop <- as.call(list(
    as.name("for"), loop[[2]], as.call(list(rec$passes)), new_body
  ))
  as.call(list(
    as.name("{"),
    as.call(list(rec$written, loop[[3]], quote(environment()))),
    as.call(list(rec$inject, quote(environment()))),
    new_loop,
    as.call(list(rec$done))
  ))
}

# The loop body with `record` called before each of its `next`: in its if
# and { } blocks, not in an inner loop's (its `next` is that loop's) nor in a
# function defined there.
script_record_at_next <- function(expr, record) {
  if (!is.call(expr)) return(expr)
  head <- expr[[1]]
  if (identical(head, as.name("next"))) {
    return(as.call(list(as.name("{"), record, expr)))
  }
  inner <- c("for", "while", "repeat", "function")
  if (is.name(head) && as.character(head) %in% inner) return(expr)
  for (i in seq_along(expr)[-1]) {
    if (is.call(expr[[i]])) {
      expr[[i]] <- script_record_at_next(expr[[i]], record)
    }
  }
  expr
}

# Run the script with its loop rewritten. Returns list(status, message, line,
# trace, count): status "done" (the loop ran to its end), "before" (the script
# stopped before reaching the loop) or "inside" (it stopped in the loop).
nnparity_script_run <- function(file, from, to, article, inputs, epochs) {
  # The script's setwd() is its own: R's working directory is the folder
  # nnparity was run in again when it ends (the next run starts from there).
  wd <- getwd()
  on.exit(setwd(wd), add = TRUE)
  # A connection the script opened and never closed (a log of each pass) is
  # closed when it stops, as R's own end would: whole, not cut at its last
  # buffer when the worker ends.
  open_before <- getAllConnections()
  on.exit(script_close_connections(open_before), add = TRUE)
  plan <- nnparity_script_plan(file, from, to, article)
  if (!is.null(plan$problem)) {
    return(list(
      status = "before", message = plan$problem, line = NA, count = 0L
    ))
  }
  if (!is.null(plan$refusal)) {
    return(list(status = "plan", refusal = plan$refusal))
  }
  exprs <- parse(file, keep.source = TRUE)
  for (i in seq_along(exprs)) exprs[[i]] <- script_global_assign(exprs[[i]])
  # X or y under another name the loop reads (inputs <- X before it): the
  # case's goes there too, as under --names
  data <- plan$aliases$to %in% c("X", "y") &
    !plan$aliases$from %in% from & plan$aliases$from %in% plan$reads
  from <- c(from, plan$aliases$from[data], plan$derived$targets)
  to <- c(to, plan$aliases$to[data],
          rep(plan$derived$name, length(plan$derived$targets)))
  rec <- script_recorder(
    inputs, epochs, from, to, plan$assigned, article, plan$carried
  )
  for (name in names(plan$data_set)) {
    # X or y as the script first sets it, compared at the loop (rec$inject)
    at <- plan$data_set[[name]]$first
    exprs[[at]] <- as.call(list(
      as.name("{"), exprs[[at]],
      as.call(list(rec$first, name, quote(environment())))
    ))
  }
  rec$function_reads <- script_function_reads(exprs)
  rec$derived <- plan$derived
  top <- exprs[[plan$top]]
  loop <- top
  for (i in plan$path) loop <- loop[[i]]
  rec$over_data <- isTRUE(plan$over_data)
  rec$nested <- plan$depth > 0
  rec$loop_text <- paste0(
    "for (", as.character(loop[[2]]), " in ",
    paste(deparse(loop[[3]]), collapse = " "), ")"
  )
  exprs[[plan$top]] <- script_replace(
    top, plan$path, script_rewrite_loop(loop, rec, as.integer(epochs))
  )
  outcome <- script_without_devices(script_eval(exprs, rec))
  refused <- c("refused", "unnamed", "misfit")
  if (outcome$status %in% refused) outcome$line <- plan$line
  if (identical(outcome$status, "inside")) {
    outcome$message <- script_inside_notes(outcome$message, rec, epochs)
  }
  outcome$count <- rec$count
  outcome$trace <- mget(ls(rec$trace), envir = rec$trace)
  outcome$recorded <- names(rec$recorded)
  outcome$given <- rec$given
  outcome$notes <- rec$notes
  outcome
}

# An error inside the loop, with what explains it: the case's sizes that
# differ from the script's, epochs past those its loop runs as written.
script_inside_notes <- function(message, rec, epochs) {
  if (length(rec$resized)) {
    message <- paste0(
      message, "; note: the case's sizes differ from the script's: ",
      paste(rec$resized, collapse = ", ")
    )
  }
  written <- rec$written_count
  if (!is.null(written) && rec$count >= written) {
    message <- paste0(
      message, "; note: its loop runs ", written, " epochs as written,",
      " and nnparity ran ", epochs, " (the case's, or --epochs): --epochs ",
      written, " runs as many"
    )
  }
  message
}

# Evaluate the (rewritten) script's expressions in a fresh environment, what
# they print captured, their warnings kept to explain an error.
script_eval <- function(exprs, rec) {
  env <- new.env()
  parent.env(env) <- script_guard(env)
  current <- 0L
  warned <- character()
  keep_warning <- function(w) {
    warned <<- union(warned, gsub("\\s+", " ", trimws(conditionMessage(w))))
    invokeRestart("muffleWarning")
  }
  run_all <- function() {
    for (i in seq_along(exprs)) {
      current <<- i
      eval(exprs[[i]], env)
    }
    stop("the training loop was not reached", call. = FALSE)
  }
  failed <- function(error) {
    inside <- rec$phase == "inside" && !is.na(rec$line)
    list(
      status = rec$phase, message = script_error_text(error, warned),
      line = if (inside) rec$line else script_line(exprs, current)
    )
  }
  outcome <- NULL
  utils::capture.output(outcome <- tryCatch(
    withCallingHandlers(
      run_all(),
      warning = keep_warning,
      message = function(m) invokeRestart("muffleMessage")
    ),
    nnparity_loop_done = function(done) list(status = "done"),
    nnparity_misfit = function(misfit) {
      list(status = "misfit", dims = misfit$dims, theirs = misfit$theirs)
    },
    nnparity_unnamed = function(unnamed) {
      list(
        status = "unnamed", missing = unnamed$missing,
        carried = unnamed$carried, untrained = unnamed$untrained
      )
    },
    nnparity_refusal = function(refused) {
      list(status = "plan", refusal = refused$facts)
    },
    nnparity_data_changed = function(refused) {
      list(
        status = "data_changed", name = refused$name, theirs = refused$theirs
      )
    },
    nnparity_per_sample = function(refused) {
      facts <- list(
        status = "per_sample", loop_text = refused$loop_text,
        passes = refused$passes
      )
      facts$rows <- refused$rows # none for a loop over the samples
      facts
    },
    nnparity_refused = function(refused) {
      list(
        status = "refused", message = conditionMessage(refused),
        target = refused$target, name = refused$name, dims = refused$dims
      )
    },
    error = failed
  ))
  outcome
}

# Evaluate `expr` with plots drawn on no device (Rscript would write
# Rplots.pdf into the user's folder); devices it opens are closed.
script_without_devices <- function(expr) {
  devices <- grDevices::dev.list()
  old <- options(device = function(...) grDevices::pdf(NULL))
  on.exit({
    options(old)
    for (device in setdiff(grDevices::dev.list(), devices)) {
      grDevices::dev.off(device)
    }
  })
  expr
}

# The script's enclosure: quit() and q() in an embedded R would end the whole
# process nnparity runs in; here they stop the script with an error instead.
# `x <<- value` outside any function, as Rscript runs it (at top level, in the
# global environment, where nothing encloses it): `x <- value` in the
# environment the script runs in here (script_eval), its global environment.
# Inside a function, local(), with() or within() it assigns in an enclosing
# environment, the script's own here too: left as it is.
script_global_assign <- function(expr) {
  own_environment <- c("function", "local", "with", "within")
  if (!is.call(expr) || (is.name(expr[[1]]) &&
                           as.character(expr[[1]]) %in% own_environment)) {
    return(expr)
  }
  if (identical(expr[[1]], as.name("<<-"))) expr[[1]] <- as.name("<-")
  for (i in seq_along(expr)[-1]) {
    if (is.call(expr[[i]])) expr[[i]] <- script_global_assign(expr[[i]])
  }
  expr
}

# What the script's code sees between its own environment and R's: quit()
# refused, and `.GlobalEnv` and globalenv() its own environment, `env` (as
# assign("wh", value, envir = .GlobalEnv) means it when Rscript runs it).
script_guard <- function(env) {
  guard <- new.env(parent = globalenv())
  guard$.GlobalEnv <- env
  guard$globalenv <- function() env
  guard$quit <- function(...) {
    stop("the script calls quit(), which would end nnparity's R: remove it",
         call. = FALSE)
  }
  guard$q <- guard$quit
  guard
}

script_error_text <- function(error, warned) {
  call <- conditionCall(error)
  text <- conditionMessage(error)
  # stop() at the script's top level (or in its loop) has script_eval's own
  # eval() as its call: nnparity's, not the script's
  if (identical(call, quote(eval(exprs[[i]], env)))) call <- NULL
  if (!is.null(call)) {
    text <- paste0("in ", paste(deparse(call, nlines = 1), collapse = ""),
                   ": ", text)
  }
  text <- gsub("\\s+", " ", trimws(text))
  if (length(warned)) {
    text <- paste0(text, " (R warned: ", paste(warned, collapse = "; "), ")")
  }
  text
}
