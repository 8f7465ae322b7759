"""What the integration tests stand on: the real stack and the real service processes."""
