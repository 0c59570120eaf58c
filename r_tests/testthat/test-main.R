# The standalone entry point: Rscript r_impl/main.R CASE_FOLDER [EPOCHS].

rscript <- file.path(R.home("bin"), "Rscript")
main_r <- function(...) {
  main <- file.path(root, "r_impl", "main.R")
  suppressWarnings(
    system2(rscript, c(main, ...), stdout = TRUE, stderr = TRUE)
  )
}
printed_numbers <- function(lines) {
  number <- "-?[0-9]+\\.[0-9]+(e-?[0-9]+)?"
  as.numeric(unlist(regmatches(lines, gregexpr(number, lines))))
}

test_that("main.R prints epoch 1's output, the article's 0.79, 0.80, 0.79", {
  out <- main_r(file.path(root, "fixtures", "article"), "1")
  expect_null(attr(out, "status"))
  expect_equal(round(printed_numbers(out), 2), c(0.79, 0.80, 0.79))
})

test_that("main.R trains the case's epochs and prints what train() gives", {
  out <- main_r(file.path(root, "fixtures", "article"))
  expect_null(attr(out, "status"))
  in_process <- with(article, train(X, y, wh, bh, wout, bout, lr, epochs))
  # print() shows 7 significant digits.
  expect_equal(
    printed_numbers(out), as.vector(in_process$output),
    tolerance = 1e-6
  )
})

test_that("main.R without a case folder stops with its usage", {
  out <- main_r()
  expect_identical(attr(out, "status"), 1L)
  expect_true(any(grepl("usage: Rscript r_impl/main.R CASE_FOLDER", out)))
})
