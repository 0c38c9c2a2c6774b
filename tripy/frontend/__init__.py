"""The public API: ops composed from the backend primitives, and the modules built on them."""
