"""The SageMaker training container for the sample "churn" model.

Importable from the repository root (``containers.training``) so tests and other components
(feature store config, drift detection) share one schema and one metric definition list.
"""
