# Steps computed by hand, with explicit numbers, on a network of 2 samples,
# 3 features and 2 hidden units (not square, so a transposed or row-wise sum
# would give the wrong shape or the wrong numbers).

X <- matrix(c(1, 0, 2,
              0, 1, 1), nrow = 2, byrow = TRUE)
wh <- matrix(c(0.1, 0.2,
               0.3, 0.4,
               0.5, 0.6), nrow = 3, byrow = TRUE)
bh <- matrix(c(0.01, 0.02), nrow = 1)

test_that("step 2: hidden_layer_input is X %*% wh plus bh added to every row", {
  # row 1, unit 1: 1*0.1 + 0*0.3 + 2*0.5 + 0.01 = 1.11
  # row 1, unit 2: 1*0.2 + 0*0.4 + 2*0.6 + 0.02 = 1.42
  # row 2, unit 1: 0*0.1 + 1*0.3 + 1*0.5 + 0.01 = 0.81
  # row 2, unit 2: 0*0.2 + 1*0.4 + 1*0.6 + 0.02 = 1.02
  by_hand <- matrix(c(1.11, 1.42,
                      0.81, 1.02), nrow = 2, byrow = TRUE)
  expect_equal(steps$hidden_layer_input(X, wh, bh), by_hand, tolerance = 1e-15)
})

test_that("step 11: bh moves by lr times d_hiddenlayer's column sums", {
  # a sum over the samples
  d_hiddenlayer <- matrix(c(0.5, -1,
                            2, 3), nrow = 2, byrow = TRUE)
  # column sums: 2.5 and 2; times lr = 0.1: 0.25 and 0.2
  by_hand <- matrix(c(0.01 + 0.25, 0.02 + 0.2), nrow = 1)
  expect_equal(steps$bh(bh, d_hiddenlayer, 0.1), by_hand, tolerance = 1e-15)
})

test_that("step 6: the slope is written in terms of the activation", {
  # the slope of activation a is a * (1 - a)
  expect_identical(
    steps$slope_hidden_layer(matrix(c(0.5, 0.25), nrow = 1)),
    matrix(c(0.25, 0.1875), nrow = 1)
  )
})
