test_that("train records every matrix nnparity/steps.py names, in its order", {
  result <- train_case(article, 2)
  expect_identical(names(result$trace), article_steps()$name)
})

test_that("every recorded matrix has the article's shape, for every epoch", {
  # The article's network: 3 samples, 4 features, 3 hidden units, 1 output.
  expected <- list(
    hidden_layer_input = c(3, 3), hiddenlayer_activations = c(3, 3),
    output_layer_input = c(3, 1), output = c(3, 1), E = c(3, 1),
    slope_output_layer = c(3, 1), slope_hidden_layer = c(3, 3), d_output = c(3, 1),
    Error_at_hidden_layer = c(3, 3), d_hiddenlayer = c(3, 3),
    wout = c(3, 1), wh = c(4, 3), bout = c(1, 1), bh = c(1, 3)
  )
  trace <- train_case(article, 4)$trace
  for (name in names(expected)) {
    expect_identical(dim(trace[[name]]), as.integer(c(4, expected[[name]])), label = paste("dim of", name))
    expect_false(anyNA(trace[[name]]), label = paste(name, "has NA cells"))
  }
})

test_that("biases stay 1-row matrices when there are several outputs", {
  case <- read_case(file.path(root, "fixtures", "two_outputs"))
  trace <- train_case(case, 2)$trace
  expect_identical(dim(trace$bout)[2:3], c(1L, 2L))
  expect_identical(dim(trace$bh)[2:3], c(1L, ncol(case$wh)))
})
