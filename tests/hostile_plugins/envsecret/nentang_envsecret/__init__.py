"""envsecret: hostile sample — reads the platform's secrets from the environment."""
