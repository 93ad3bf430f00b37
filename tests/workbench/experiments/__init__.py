"""Tests of workbench.experiments."""
