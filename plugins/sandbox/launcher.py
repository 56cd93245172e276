"""Started by ``run.run_python`` as its own process: isolate, limit, drop privileges, then
exec the guarded interpreter. Runs with ``python -I -S -B``; stdlib only.

argv: launcher.py CONFIG_JSON
"""

import ctypes
import json
import os
import resource
import sys

CLONE_NEWNET = 0x40000000
NOBODY = 65534


def main() -> None:
    config = json.loads(sys.argv[1])
    folder = config["folder"]
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(CLONE_NEWNET) != 0:  # no capability: the guard still refuses sockets
            sys.stderr.write("sandbox: network namespace unavailable\n")
    cpu = int(config["cpu_s"])
    memory = int(config["memory_mb"]) * 1024 * 1024
    fsize = int(config["output_bytes"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    nproc = int(config["max_processes"])
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    os.chdir(folder)
    if config["drop_privileges"]:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    env = {"HOME": folder, "TMPDIR": folder, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    python = config["python"]
    os.execve(python, [python, "-I", "-S", "-B", config["guard"],
                               config["code"], config["folder"]], env)


main()
