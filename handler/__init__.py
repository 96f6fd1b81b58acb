"""The Lambda entry point only (``handler.enforce``); the product is the ``ecr_drift`` package."""
