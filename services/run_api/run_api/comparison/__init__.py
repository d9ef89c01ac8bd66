"""Comparison: a submission's runs ranked by a documented, configurable rule."""
