"""The Lambda entry point (``handler.enforce.lambda_handler``): wiring lives in ``ecr_drift.lambda_function``.

The function's handler setting names this module, so deployments and their documentation keep one stable path
while the product's code lives under its own name, ``ecr_drift``.
"""

from ecr_drift.lambda_function import lambda_handler

__all__ = ["lambda_handler"]
