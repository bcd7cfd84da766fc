"""The errors of preset loading. Both name the preset, so a failing `zoo.load` says which file to restore.

The two classes live together because they are one hierarchy: catch `PresetError` for any refusal, or
`WeightsChecksumError` for a damaged file only.
"""


class PresetError(ValueError):
    """A preset cannot be loaded: unknown name, a class that does not match, or weights of another architecture."""


class WeightsChecksumError(PresetError):
    """A weights file's size or SHA-256 differs from its manifest's: the file is truncated, corrupted or replaced."""
