"""Page script (run by Streamlit, never imported)."""

from ttc.ui.builder_page import render

render()
