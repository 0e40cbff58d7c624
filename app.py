#!/usr/bin/env python3
"""CDK entry point (`npx cdk synth`): config comes from cdk.json context, `-c config=NAME` and `-c key=value`."""

import sys

from stacks.app_factory import build_app, environment_from_cdk_variables
from stacks.config import ConfigError

try:
    pipeline = build_app(env=environment_from_cdk_variables())
except ConfigError as error:
    # A configuration mistake is the operator's to fix: one line naming key, value and what is allowed, no traceback.
    sys.exit(f"error: {error}")
for note in pipeline.config_notes:
    print(f"config: {note}", file=sys.stderr)
pipeline.app.synth()
