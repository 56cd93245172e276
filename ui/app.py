"""The Streamlit entry script of ``ttc ui`` (``streamlit run app.py -- --db URL``).

Navigation lists the pages by section; a page is one ``st.Page`` and a page script under
``page_scripts/`` that calls its module's ``render``.
"""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="ttc", page_icon=":material/science:", layout="wide")

SECTIONS: dict[str, list[st.Page]] = {
    "Build": [
        st.Page("page_scripts/builder.py", title="Builder", icon=":material/construction:",
                url_path="builder"),
    ],
    "Inspect": [
        st.Page("page_scripts/runs.py", title="Runs", icon=":material/list:", url_path="runs",
                default=True),
        st.Page("page_scripts/run.py", title="Run page", icon=":material/account_tree:",
                url_path="run"),
        st.Page("page_scripts/whatif.py", title="What-if", icon=":material/alt_route:",
                url_path="whatif"),
    ],
    "Evaluate": [
        st.Page("page_scripts/evals.py", title="Evals", icon=":material/monitoring:",
                url_path="evals"),
        st.Page("page_scripts/eval.py", title="Eval page", icon=":material/fact_check:",
                url_path="eval"),
    ],
}

st.navigation(SECTIONS).run()
