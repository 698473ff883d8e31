"""The phone's earthquake classifier: synthetic and real data, training, export, evaluation.

Training needs the optional ``[train]`` extra (TensorFlow and the data packages); the shipped
``.tflite`` files, their JSON sidecars and ``python -m edge_model.evaluate`` need only the runtime.
"""
