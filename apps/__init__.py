"""The Panel browser application; imports `workbench` only."""
