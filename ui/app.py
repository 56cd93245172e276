"""The Streamlit entry script of ``ttc ui`` (``streamlit run app.py -- --db URL``).

Navigation lists the pages by section. The evaluation pages arrive with ``ttc eval``: add an
"Evaluate" section here (``st.Page("pages/evals.py", title="Evals", url_path="evals")``); the
other pages need no change.
"""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="ttc", page_icon="🧪", layout="wide")

SECTIONS: dict[str, list[st.Page]] = {
    "Build": [
        st.Page("pages/builder.py", title="Builder", icon="🛠️", url_path="builder"),
    ],
    "Inspect": [
        st.Page("pages/runs.py", title="Runs", icon="📋", url_path="runs", default=True),
        st.Page("pages/run.py", title="Run page", icon="🔎", url_path="run"),
        st.Page("pages/whatif.py", title="What-if", icon="🔀", url_path="whatif"),
    ],
}

st.navigation(SECTIONS).run()
