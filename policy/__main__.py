"""The platform's CrossGuard policy pack: `pulumi up --policy-pack policy`, and what
`automation/deploy.py` runs with every `up` and `preview` (README, Guardrails).

The CLI runs this file with the policy directory as the working directory and on sys.path
(PulumiPolicy.yaml names the project's venv); the rules import the project's own modules, so
the repository root goes on sys.path too. Constructing the PolicyPack starts the analyzer
server and blocks: nothing else may do it.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policy.pack import PACK_NAME, policies  # noqa: E402

PolicyPack(name=PACK_NAME, policies=policies(), enforcement_level=EnforcementLevel.MANDATORY)
