"""ecr-drift-enforcer: keeps an account's ECR registry exactly as declared in ``desired_state.json``."""
