"""The run's import and training modes, chosen from Personalize's own state (see `modes`)."""
