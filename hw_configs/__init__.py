"""Bundled board descriptions (YAML). Installed as neurocompile.hw_configs so they ship in wheels."""
