"""Experiment grids (the seed study's models x segment lengths x split schemes) and their reports."""
from gtzan_gpu.experiment.grid import Cell, Grid, load_grid
from gtzan_gpu.experiment.runner import run_experiment

__all__ = ["Cell", "Grid", "load_grid", "run_experiment"]
