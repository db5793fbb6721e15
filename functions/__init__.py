"""The platform's Lambda functions: one folder each, `functions/<name>/`, plus `functions/shared/`.

Each function is packaged by the program as its own zip (components/lambda_function.py,
`package`): this file, `shared/` and the function's folder, under the same paths, so
`functions.<name>.handler.handler` imports the same way in Lambda and in the tests. Standard
library and the boto3 that Lambda's Python runtime provides only; nothing is vendored.
"""
