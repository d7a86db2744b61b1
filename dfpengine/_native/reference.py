"""Numpy reference for the native contract (placeholder; written on branch autograd)."""
