"""What training, serving, the Pulumi program and the Lambda functions agree on, defined once.

The feature schema (``features``), the metric lines and their meaning (``metrics``), the
hyperparameter schema (``hyperparameters``), the drift baseline format (``baseline``), the
model folder the training image writes and the inference image serves (``model_metadata``) and
the media types that server reads and answers in (``serving``).
Standard library only, and inside ``containers/`` so that every image's build context reaches
it (the images build from ``containers/`` with a per-Dockerfile ignore file).
"""
