"""A Keras-2-era script: the "MLP for multi-class softmax classification" of the old Keras
guide to the Sequential model, written the way scripts of that time were (an empty Sequential
grown with `add`, the first layer given `input_shape=`, `to_categorical`, SGD with Nesterov
momentum, a `keras.utils.Sequence` feeding batches and reshuffling in `on_epoch_end`,
ModelCheckpoint, saving and reloading).

Runs with Keras 3 (`import keras`) and with `import fastmlp as keras` unchanged.
Prints one line `RESULT {json}`.
"""

import json
import math

import numpy as np

import fastmlp as keras

np.random.seed(1337)  # for reproducibility
keras.utils.set_random_seed(1337)

num_classes = 10
centers = np.random.normal(size=(num_classes, 20)) * 0.6


def make_data(count):
    y = np.random.randint(num_classes, size=(count, 1))
    x = centers[y[:, 0]] + np.random.normal(size=(count, 20))
    return x.astype("float32"), y


x_train, y_train = make_data(6000)
x_test, y_test = make_data(1000)
y_train = keras.utils.to_categorical(y_train, num_classes=num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes=num_classes)
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")


class BatchSequence(keras.utils.Sequence):
    """Batches of (x, y), in a new order after every epoch."""

    def __init__(self, x, y, batch_size):
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.indexes = np.arange(len(self.x))

    def __len__(self):
        return int(math.ceil(len(self.x) / float(self.batch_size)))

    def __getitem__(self, idx):
        batch = self.indexes[idx * self.batch_size:(idx + 1) * self.batch_size]
        return self.x[batch], self.y[batch]

    def on_epoch_end(self):
        np.random.shuffle(self.indexes)


model = keras.Sequential()
# Dense(64) is a fully-connected layer with 64 hidden units.
# in the first layer, you must specify the expected input data shape:
# here, 20-dimensional vectors.
model.add(keras.layers.Dense(64, activation="relu", input_shape=(20,)))
model.add(keras.layers.Dropout(0.5))
model.add(keras.layers.Dense(64, activation="relu"))
model.add(keras.layers.Dropout(0.5))
model.add(keras.layers.Dense(num_classes, activation="softmax"))
model.summary()

sgd = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9, nesterov=True)
model.compile(loss="categorical_crossentropy", optimizer=sgd, metrics=["accuracy"])

checkpoint = keras.callbacks.ModelCheckpoint("best.keras", monitor="val_accuracy",
                                             save_best_only=True, verbose=1)
history = model.fit(BatchSequence(x_train, y_train, 128), epochs=15,
                    validation_data=(x_test, y_test), callbacks=[checkpoint], verbose=2)
score = model.evaluate(x_test, y_test, batch_size=128, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])

best = keras.models.load_model("best.keras")
best_score = best.evaluate(x_test, y_test, batch_size=128, verbose=0)
print("Best checkpoint accuracy:", best_score[1])

probabilities = model.predict(x_test, batch_size=128, verbose=0)
classes = np.argmax(probabilities, axis=1)

print("RESULT", json.dumps({
    "test_loss": float(score[0]), "test_accuracy": float(score[1]),
    "best_val_accuracy": float(max(history.history["val_accuracy"])),
    "best_checkpoint_accuracy": float(best_score[1]),
    "epochs": len(history.history["loss"]),
    "argmax_accuracy": float(np.mean(classes == np.argmax(y_test, axis=1))),
    "probabilities_sum_to_one": float(np.max(np.abs(probabilities.sum(axis=1) - 1.0))),
}))
