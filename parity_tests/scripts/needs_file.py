# The data comes from a file I saved earlier.
import numpy as np

data = np.loadtxt("my_training_data.csv", delimiter=",")
X, y = data[:, :4], data[:, 4:]
wh = np.random.uniform(size=(4, 3))
for i in range(100):
    hidden_layer_input = X @ wh
