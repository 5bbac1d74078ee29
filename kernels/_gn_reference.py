"""Array-API reference of the Gauss-Newton product (docs/method.md, "Matrix-free solves").

Works in any namespace (NumPy, array-api-strict, PyTorch, CuPy, ...): the formulas themselves,
with two n x h temporaries.
"""

from __future__ import annotations

from typing import Any


def gauss_newton_product_reference(
    Xt: Any, D: Any, V: Any, dW: Any, Hb: Any | None, dT: Any | None
) -> tuple[Any, Any | None]:
    """``(out_W, out_T)`` of :func:`relu_altmin.kernels.gauss_newton_product`.

    ``U = (D * (Xt dW^T)) V + Hb dT``, ``out_W = (D * (U V^T))^T Xt``, ``out_T = Hb^T U``
    (``None`` without ``Hb``). Inputs are assumed validated.
    """
    U = (D * (Xt @ dW.T)) @ V
    if Hb is not None:
        U = U + Hb @ dT
    return (D * (U @ V.T)).T @ Xt, (None if Hb is None else Hb.T @ U)
