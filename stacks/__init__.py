"""CDK constructs and stacks of the Personalize batch pipeline: one construct per concern."""
