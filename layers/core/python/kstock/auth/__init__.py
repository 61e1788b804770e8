"""Authentication: access tokens (JWT, HS256) and their revocation."""
