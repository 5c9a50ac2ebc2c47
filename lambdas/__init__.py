"""Lambda handlers: thin adapters over :mod:`engine.stack.functions` (parse the event, call one
engine function, return a small dict). Logic that grows here belongs in ``engine``."""
