"""The data stack's Personalize custom resources (solutions, Items / Users datasets): one provider function."""
