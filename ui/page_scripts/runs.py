"""Page script (run by Streamlit, never imported)."""

from ttc.ui.runs_page import render

render()
