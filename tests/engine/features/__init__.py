"""Tests of engine.features."""
