"""Feature extractors for sample-quality metrics: our trained classifier, and Inception-v3 from a user's file."""

from zoo.classifier.feature_classifier import FeatureClassifier
from zoo.classifier.inception import inception_feature_extractor
from zoo.classifier.pretrained import (
    WEIGHTS_DIR,
    WeightsChecksumError,
    available_datasets,
    load_feature_classifier,
    read_manifest,
    sha256_of_file,
)

__all__ = [
    "FeatureClassifier",
    "WEIGHTS_DIR",
    "WeightsChecksumError",
    "available_datasets",
    "inception_feature_extractor",
    "load_feature_classifier",
    "read_manifest",
    "sha256_of_file",
]
