"""The typed trace: primitives, the nodes that apply them, rewrites over them, and the one evaluator."""
