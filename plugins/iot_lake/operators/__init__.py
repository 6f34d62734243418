"""Thin operators of the lake: they pick the backend at run time and call library code."""
