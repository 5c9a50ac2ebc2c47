"""Job code: example Mappers/Reducers, and the user's own (baked into the Lambda image)."""
