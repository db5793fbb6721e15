"""What training, serving, the Pulumi program and the Lambda functions agree on, defined once.

The feature schema (``features``), the metric lines and their meaning (``metrics``), the
hyperparameter schema (``hyperparameters``) and the drift baseline format (``baseline``).
Standard library only, and inside ``containers/`` so that every image's build context reaches
it (the images build from ``containers/`` with a per-Dockerfile ignore file).
"""
