"""Streamlit page scripts, run by Streamlit (see ``ttc/ui/app.py``) and never imported; each
only calls its page module's ``render``. The folder is not named ``pages``: Streamlit would
also list that folder's files as pages of their own."""
