"""Ports: the small protocols the shell uses to reach the world (filled in with the cycle)."""
