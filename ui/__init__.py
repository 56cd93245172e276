"""The Streamlit app (``ttc ui``): a pipeline builder, the runs list, a run page and what-if
re-selection, on top of the Python API (``ttc.Pipeline``) and the run store
(``ttc.storage.RunStore``); no SQL here. See docs/ui.md."""
