"""Where images are kept: files in class folders (their checks and cached headers) and
prepared copies (shards on a local path or object storage)."""
