"""Structured replies: constrained decoding where the runtime has it, else a tolerant parser
with a bounded number of re-asks (``parse_retries``) and a failure recorded as a run warning."""
