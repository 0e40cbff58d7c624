#!/usr/bin/env python3
"""CDK entry point (`npx cdk synth`): config comes from cdk.json context and `-c key=value`."""

from stacks.app_factory import build_app, environment_from_cdk_variables

pipeline = build_app(env=environment_from_cdk_variables())
pipeline.app.synth()
