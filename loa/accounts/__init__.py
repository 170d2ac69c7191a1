"""Users, commune memberships with roles, passwords, sessions and API tokens."""
