"""`python -m zoo.presets`: prints the table of shipped presets."""

from zoo.presets import presets_table

if __name__ == "__main__":
    print(presets_table())
