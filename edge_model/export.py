"""Full-integer TFLite export with a representative dataset (needs TF)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np


def to_full_int8_tflite(model: Any, representative: np.ndarray) -> bytes:
    """Convert a Keras model to an int8-in/int8-out TFLite flatbuffer.

    ``representative`` holds normalised inputs (n, samples, channels) that calibrate the
    activation ranges (post-training quantisation, TFLite guide 'Integer only').
    """
    import tensorflow as tf

    def samples() -> Iterator[list[np.ndarray]]:
        for row in representative:
            yield [row[None].astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = samples
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return bytes(converter.convert())
