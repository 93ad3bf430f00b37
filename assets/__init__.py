"""Shipped files: pretrained compact policies with model cards, demo specs, static files."""
