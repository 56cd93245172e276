"""Page script (run by Streamlit, never imported)."""

from ttc.ui.whatif_page import render

render()
