"""The local runner: worker processes stand in for warm Lambda containers."""
