"""Tests of the shipped assets."""
