"""Run untrusted (model-written) Python in a kernel-isolated sandbox -- never in ttc's
process, never with ttc's view of the machine.

``run.run_python`` runs a program and returns its output; ``code_tests.run_tests`` runs code
against test statements and returns a verdict per test, decided by a harness process the
tested code cannot reach; ``code_blocks.extract_code`` finds the code in a reply. Without
kernel isolation (user namespaces or bubblewrap) nothing runs: ``SandboxUnavailable`` says
what to install. The threat model, layer by layer: docs/sandbox.md.

Host side: ``run.py`` (wait, collect, status), ``isolation.py`` (which backend),
``backends.py`` (how each starts), ``job.py`` (what runs). Inside the sandbox, stdlib only:
``launcher.py`` (builds the namespaces), ``guard.py`` (rlimits, audit hook, runs the code),
``harness.py`` / ``worker.py`` / ``wire.py`` (unit tests).
"""
