"""Everything that talks to AWS: reads (observe), writes (remediate) and the clients they share."""
