"""The inference image: the SageMaker serving contract for models the training image writes."""
