"""Flask web admin and the REST bridge (/api/v1)."""
