"""The deployed stack: what its Lambda functions do (functions.py) and what the laptop does with it (client.py)."""
