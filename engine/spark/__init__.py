"""The Spark runtime: the session and its JVM start, the class archive, readers, rejects, column pruning."""
