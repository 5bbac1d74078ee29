"""relu-altmin: two-layer ReLU-like networks trained by exact alternating least squares.

Pass NumPy arrays to run on the CPU, CuPy or PyTorch CUDA arrays to run on the GPU.
"""

from . import baselines
from ._data import load_diabetes
from ._fit import DEFAULT_L2_FACTOR, FitInterrupted, FitResult, IterationRecord, fit
from ._model import TwoLayerNet, critical_point_residuals
from ._rows import Chunks
from ._standardize import Standardization

__all__ = [
    "DEFAULT_L2_FACTOR",
    "Chunks",
    "FitInterrupted",
    "FitResult",
    "IterationRecord",
    "Standardization",
    "TwoLayerNet",
    "baselines",
    "critical_point_residuals",
    "fit",
    "load_diabetes",
]

__version__ = "0.1.0"
