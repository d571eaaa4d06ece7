"""vulntax: classify vulnerability descriptions into CWE, CVSS v3.1, CAPEC and ATT&CK.

Importing this package is cheap: heavy libraries (scikit-learn, torch,
matplotlib) are imported only by the commands that need them.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vulntax")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
