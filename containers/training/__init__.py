"""The SageMaker training container for the sample "churn" model.

Importable from the repository root (``containers.training``) so tests run it directly; what
it shares with the other images and the program lives in ``containers.contracts``.
"""
