"""Streamlit page scripts: run by Streamlit (see ``ttc/ui/app.py``), never imported. Each one
only calls the ``render`` of its page module."""
