"""Structured replies: constrained decoding where the runtime has it, else a tolerant parser
with a bounded number of retries and a recorded failure."""
