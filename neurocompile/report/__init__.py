"""Compile reports: the JSON record (build.py) and its human renderings (text.py)."""
