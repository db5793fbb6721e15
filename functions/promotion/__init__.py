"""A/B promotion: the decision rule (decision.py), the evidence it reads from CloudWatch
(evidence.py) and the Lambda the promotion state machine invokes (handler.py).

Standard library only, so the zip is the code and nothing else, and the rule can be imported
by the program, the command line and the tests exactly as Lambda runs it.
"""
