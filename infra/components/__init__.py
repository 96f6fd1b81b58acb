"""The stack's building blocks, one ``pulumi.ComponentResource`` each."""
