"""Storage (local files and S3), where a path points, staging inputs, publishing outputs."""
