"""Page script (run by Streamlit, never imported)."""

from ttc.ui.run_page import render

render()
