"""An example ttc plugin package: copy it to start your own.

``plugin.py`` is what the ``ttc`` entry point names; the other modules hold one idea each.
"""
