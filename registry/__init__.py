"""IP Office Anchor Registry: prove that a publication record came from a given IP office, unchanged.

Usage::

    from registry.core import canon, records
    h = canon.content_hash(open("EP-1234567-B1.xml", "rb").read(), canon.XML_C14N2)

The command line is ``ipreg`` (see ``ipreg --help``); the service is ``ipreg serve``.
"""

__version__ = "0.1.0"
