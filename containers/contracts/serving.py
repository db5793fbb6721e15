"""The media types the inference server reads and answers in, defined once.

The inference image decodes and encodes exactly these (``containers/inference/decoding.py``,
``encoding.py``); the Pulumi program registers them with every model version
(``SupportedContentTypes`` and ``SupportedResponseMIMETypes``, components/training_workflow.py)
and declares them to each endpoint's data capture (``CaptureContentTypeHeader``,
components/inference_endpoint.py), so what a version says it accepts is what its server serves.
Standard library only, like every contract: the program imports it without the image's packages.
"""

from __future__ import annotations

CSV = "text/csv"
JSON = "application/json"
# Both, in the order they are registered and declared.
CONTENT_TYPES: tuple[str, ...] = (CSV, JSON)
