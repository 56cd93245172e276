"""Self-evaluation (docs/methods.md V4): the question is appended after the model's own answer, so
the conversation up to the answer is a prefix the cache already holds."""

QUESTION = "Is your answer above correct? Answer Yes or No."
