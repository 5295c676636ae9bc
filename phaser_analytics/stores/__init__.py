"""Stores: the interface (:mod:`.base`) and its backends, one module each (docs/storage.md)."""
