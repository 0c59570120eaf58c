# The article's spreadsheet (fixtures/article/walkthrough-epoch1.csv): every
# number it prints for epoch 1, reproduced to within one unit of its last digit.

test_that("epoch 1 reproduces every number the article prints", {
  printed <- read.csv(
    file.path(root, "fixtures", "article", "walkthrough-epoch1.csv")
  )
  expect_gt(nrow(printed), 80)
  trace <- train_case(article, 1)$trace
  start <- list(
    wh = article$wh, bh = article$bh, wout = article$wout, bout = article$bout
  )
  for (k in seq_len(nrow(printed))) {
    p <- printed[k, ]
    value <- if (p$step == 1) {
      start[[p$matrix]][p$row, p$col]
    } else {
      trace[[p$matrix]][[1]][p$row, p$col]
    }
    unit <- 10^-p$decimals
    expect_lte(
      abs(value - p$printed), unit * 1.0001,
      label = sprintf(
        "step %d %s[%d,%d] = %.6f against the article's %s",
        p$step, p$matrix, p$row, p$col, value,
        format(p$printed, nsmall = p$decimals)
      )
    )
  }
})
