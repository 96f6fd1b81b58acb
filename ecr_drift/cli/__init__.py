"""``ecr-drift``: the command line on the same engine as the Lambda. Not shipped in the Lambda package."""
