"""Executors: one small adapter per kind of coding agent, behind `Agent`."""
