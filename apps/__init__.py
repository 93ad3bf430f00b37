"""The Panel browser application; imports `workbench` only.

``app`` (routes and sidebar), ``pages`` (one viewer per page), ``plots`` (Bokeh figures), ``jobs``
(long work off the server's thread), ``downsample`` (long series for display). See docs/app.md.
"""
