"""jsonschema's IRI grammar, compiled when first used instead of on every `import nbformat`.

jsonschema imports rfc3987_syntax as it loads, and that compiles some 40 Lark grammars: 0.9 s of
the 1.0 s `import nbformat` takes, for the "iri" formats that no notebook schema uses
(python-jsonschema/jsonschema#1428). A stand-in module holds the one name jsonschema imports and
loads the real module at its first call; any other name loads it at once. Nothing validates
differently: only the time the grammar is compiled moves.

`python -c NBGRADER ARGS` is `nbgrader ARGS` with the stand-in in place.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

NAME = "rfc3987_syntax"
KIT_PATH = Path(__file__).resolve().parents[2]  # the folder holding `autograder`
# a program for `python -c`, run in a staging folder: the kit is put on the path, as it may not be
# installed
NBGRADER = (f"import sys; sys.path.insert(0, {str(KIT_PATH)!r}); "
            "from autograder.release.iri_grammar import defer; defer(); "
            "from nbgrader.apps.nbgraderapp import main; main()")


def defer() -> None:
    """Put the stand-in in place, unless the real module is already loaded or cannot load (it is
    not installed, or lark, which it needs, is not: then jsonschema leaves the iri formats out, as
    it would have)."""
    spec = None if NAME in sys.modules else importlib.util.find_spec(NAME)
    if spec is None or importlib.util.find_spec("lark") is None:
        return
    stand_in = ModuleType(NAME, f"{NAME}, loaded at its first use (autograder.release.iri_grammar)")
    # what the import system reads of a package: its submodules import as they would
    stand_in.__spec__, stand_in.__file__ = spec, spec.origin
    stand_in.__path__ = list(spec.submodule_search_locations or [])

    def real() -> ModuleType:
        if sys.modules.get(NAME) is stand_in:
            del sys.modules[NAME]
        return importlib.import_module(NAME)

    def is_valid_syntax(term: str, value: str) -> bool:
        return real().is_valid_syntax(term, value)

    def any_other(name: str) -> object:  # PEP 562; the import system asks for __path__ and such
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(real(), name)

    stand_in.is_valid_syntax = is_valid_syntax
    stand_in.__getattr__ = any_other
    sys.modules[NAME] = stand_in
