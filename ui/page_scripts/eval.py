"""Page script (run by Streamlit, never imported)."""

from ttc.ui.eval_page import render

render()
