"""Map the fixed source folders onto one importable namespace, ``ttc``.

orchestrator/ becomes ``ttc`` (the core), plugins/ ``ttc.plugins``, storage/ ``ttc.storage``
and ui/ ``ttc.ui``, so nothing installs a generic top-level name like ``plugins``.
"""

from setuptools import find_packages, setup

FOLDERS = {
    "orchestrator": "ttc",
    "plugins": "ttc.plugins",
    "storage": "ttc.storage",
    "ui": "ttc.ui",
}


def _packages() -> tuple[list[str], dict[str, str]]:
    packages: list[str] = []
    package_dir: dict[str, str] = {}
    for folder, namespace in FOLDERS.items():
        for found in find_packages(include=[folder, f"{folder}.*"]):
            name = namespace + found[len(folder):]
            packages.append(name)
            package_dir[name] = found.replace(".", "/")
    return packages, package_dir


PACKAGES, PACKAGE_DIR = _packages()
setup(
    packages=PACKAGES,
    package_dir=PACKAGE_DIR,
    package_data={"ttc": ["py.typed"],  # PEP 561: type checkers read ttc's own annotations
                  "ttc.storage.migrations": ["script.py.mako"], "ttc.ui": ["*.css"],
                  "ttc.plugins.evaluation.datasets": ["data/*.jsonl"]},
)
