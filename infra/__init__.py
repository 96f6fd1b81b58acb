"""The Pulumi program that deploys ecr-drift-enforcer: the registry baseline, the enforcer, its alerting."""
