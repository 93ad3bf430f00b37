"""The app's pages: one ``pn.viewable.Viewer`` per route (see ``apps.app``)."""
