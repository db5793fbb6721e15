"""The lifecycle rehearsal's parts: the emulated AWS around the platform's real code.

automation/rehearse.py runs it; docs/runbook.md ("Try it without AWS") says what is emulated.
"""
