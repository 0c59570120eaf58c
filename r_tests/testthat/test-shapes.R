test_that("train records steps 0 and 1, then every matrix steps.csv names", {
  result <- train_case(article, 2)
  expected <- c(recorded_once(), article_steps()$name)
  expect_identical(names(result$trace), expected)
})

test_that("steps 0 and 1 are recorded once: exactly what train was given", {
  trace <- train_case(article, 3)$trace
  for (name in recorded_once()) {
    given <- article[[sub("^initial_", "", name)]]
    expect_identical(dim(trace[[name]]), c(1L, dim(given)), label = name)
    expect_identical(as.vector(trace[[name]]), as.vector(given), label = name)
  }
})

test_that("every recorded matrix has steps.csv's shape, for every epoch", {
  for (case_name in c("article", "two_outputs", "many_features")) {
    case <- read_case(file.path(root, "fixtures", case_name))
    trace <- train_case(case, 4)$trace
    steps <- article_steps()
    for (k in seq_len(nrow(steps))) {
      name <- steps$name[k]
      label <- paste(case_name, name)
      expect_length(trace[[name]], 4)
      for (i in seq_along(trace[[name]])) {
        epoch <- trace[[name]][[i]]
        expect_identical(
          dim(epoch), as.integer(shape_of(steps[k, ], case)),
          label = paste("dim of", label, "at epoch", i)
        )
        expect_false(anyNA(epoch), label = paste(label, "has NA at epoch", i))
      }
    }
  }
})

test_that("each epoch's matrix is recorded as one_epoch() computed it", {
  trace <- train_case(article, 2)$trace
  first <- one_epoch(
    article$X, article$y, article$wh, article$bh, article$wout, article$bout,
    article$lr
  )
  second <- one_epoch(
    article$X, article$y, first$wh, first$bh, first$wout, first$bout,
    article$lr
  )
  for (name in names(first)) {
    recorded <- trace[[name]]
    expect_identical(recorded[[1]], first[[name]], label = paste(name, "at 1"))
    expect_identical(recorded[[2]], second[[name]], label = paste(name, "at 2"))
  }
})

test_that("steps.csv gives the article's network its shapes", {
  # The article's network: 3 samples, 4 features, 3 hidden units, 1 output.
  steps <- article_steps()
  shapes <- lapply(
    seq_len(nrow(steps)), function(k) shape_of(steps[k, ], article)
  )
  names(shapes) <- steps$name
  expect_identical(shapes$hidden_layer_input, c(3, 3))
  expect_identical(shapes$E, c(3, 1))
  expect_identical(shapes$wh, c(4, 3))
  expect_identical(shapes$bh, c(1, 3))
  expect_identical(shapes$bout, c(1, 1))
})

test_that("biases stay 1-row matrices when there are several outputs", {
  case <- read_case(file.path(root, "fixtures", "two_outputs"))
  trace <- train_case(case, 2)$trace
  expect_identical(dim(trace$bout[[2]]), c(1L, 2L))
  expect_identical(dim(trace$bh[[2]]), c(1L, ncol(case$wh)))
})
