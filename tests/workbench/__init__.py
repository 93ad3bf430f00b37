"""Tests of the workbench layer."""
