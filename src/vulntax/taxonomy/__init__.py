"""CWE, CAPEC, MITRE ATT&CK and CVSS v3: MITRE's catalogs and the links between them.

Start with :func:`load_catalog`::

    from vulntax.taxonomy import load_catalog
    catalog = load_catalog()            # the snapshot shipped with vulntax
    catalog.cwe.path("CWE-79")          # ('CWE-707', 'CWE-74', 'CWE-79')
    catalog.graph.cwe_to_capec(89)      # ('CAPEC-7', 'CAPEC-66', ...)

CVSS helpers live in :mod:`vulntax.taxonomy.cvss`. Importing this package is cheap
(standard library only); MITRE's files are parsed only when asked for.
"""

from vulntax.taxonomy.attack import AttackCatalog, Tactic, Technique
from vulntax.taxonomy.capec import CapecCatalog, CapecEntry
from vulntax.taxonomy.catalog import Catalog, catalog_for, load_catalog
from vulntax.taxonomy.cwe import CweCatalog, CweEntry
from vulntax.taxonomy.graph import CrossGraph
from vulntax.taxonomy.labels import LabelMapping

__all__ = [
    "AttackCatalog",
    "CapecCatalog",
    "CapecEntry",
    "Catalog",
    "CrossGraph",
    "CweCatalog",
    "CweEntry",
    "LabelMapping",
    "Tactic",
    "Technique",
    "catalog_for",
    "load_catalog",
]
