"""Export of zoo models as SavedModels for TensorFlow Serving."""
