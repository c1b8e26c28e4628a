"""Input and output below everything else: CSV reading with row numbers in errors
(:mod:`simlib.io.csv`), atomic file and folder writes (:mod:`simlib.io.atomic`) and the kit's
package data, the presets, batches and notebooks (:mod:`simlib.io.resources`).

Nothing here imports any other part of simlib than :mod:`simlib.errors`.
"""
