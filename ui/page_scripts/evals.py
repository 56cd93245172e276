"""Page script (run by Streamlit, never imported)."""

from ttc.ui.evals_page import render

render()
