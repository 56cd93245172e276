"""Run untrusted (model-written) Python in a separate, limited process — never in ttc's.

Layers, each applied where the system allows it: a new network namespace (no interfaces;
needs root), an unprivileged user (``nobody``; needs root), resource limits (CPU seconds,
address space, processes, file size), a fresh temporary working folder, an audit hook that
refuses sockets, process creation, ctypes and writes outside the folder, a wall-clock
timeout that kills the whole process group, and capped output. See ``run.run_python``.
"""
