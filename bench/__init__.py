"""Benchmark of ecr-drift against moto_server with the ECR double: `make bench`."""
