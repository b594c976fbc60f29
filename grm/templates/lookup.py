"""Template lookup by name or file: the one place that joins the registry and the loader.

:mod:`grm.templates.base` holds the contract and the registry and imports no template;
:mod:`grm.templates.files` builds templates on that contract. Looking a name up needs both,
so it lives here, above them (issue 27: ``base`` used to import ``files`` from inside
``get_template``, an import circle through ``published.common``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grm.templates.base import TEMPLATES, Template
from grm.templates.files import is_template_file, load_template_file


def get_template(name: str | Path | Template, **options: Any) -> Template:
    """Look a template up by name, load it from a template file (``*.yaml``), or pass an
    instance through; options go to its init.

    >>> get_template("default").name
    'default'
    """
    if isinstance(name, Template):
        return name
    if is_template_file(name):
        return load_template_file(name, **options)
    return TEMPLATES.get(str(name))(**options)
