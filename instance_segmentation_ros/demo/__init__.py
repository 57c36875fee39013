"""The demo: generated scenes with exact answers, and the built-in model's evaluation on them.

For trying and scoring the package offline, and for the tests; not on a node's path.
"""
