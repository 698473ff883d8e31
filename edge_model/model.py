"""The Keras networks: the 1-D CNN on raw windows and the MyShake-style feature ANN (needs TF)."""

from __future__ import annotations

from typing import Any


def build_cnn(window_samples: int, channels: int) -> Any:
    """~25k-parameter 1-D CNN: four convolutions (three strided), global average+max pooling, dense.

    Strided convolutions keep the op set to int8 builtins (CONV_2D, MEAN, MAX, FULLY_CONNECTED,
    LOGISTIC) that every TFLite/LiteRT build runs.
    """
    import keras
    from keras import layers

    inp = keras.Input((window_samples, channels), name="window")
    x = layers.Conv1D(24, 7, strides=2, padding="same", activation="relu")(inp)
    x = layers.Conv1D(32, 5, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv1D(48, 5, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv1D(48, 3, strides=1, padding="same", activation="relu")(x)
    x = layers.Concatenate()([layers.GlobalAveragePooling1D()(x), layers.GlobalMaxPooling1D()(x)])
    x = layers.Dropout(0.2)(x)
    x = layers.Dense(32, activation="relu")(x)
    # A logit output clipped to ±12: int8 then resolves the score range in ~0.1-logit steps
    # (a quantised sigmoid saturates at 255/256, where the operating threshold lives); the
    # runtime applies the sigmoid.
    x = layers.Dense(1)(x)
    x = layers.ReLU(max_value=24.0)(layers.Rescaling(1.0, offset=12.0)(x))
    out = layers.Rescaling(1.0, offset=-12.0, name="logit")(x)
    return keras.Model(inp, out, name="quake_cnn")


def build_feature_ann(n_features: int, hidden: int = 5) -> Any:
    """One hidden tanh layer on standardised features, as the MyShake ANN (Kong et al. 2016)."""
    import keras
    from keras import layers

    inp = keras.Input((n_features,), name="features")
    h = layers.Dense(hidden, activation="tanh")(inp)
    out = layers.Dense(1, activation="sigmoid")(h)
    return keras.Model(inp, out, name="myshake_ann")
