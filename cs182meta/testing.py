"""Helpers for the notebooks' test cells.

A test of a later exercise often calls the student's earlier functions (``protonet_loss``
calls ``prototypes``). So that one mistake costs points once, grading runs such a test on
reference versions of the earlier functions — and must give the student's own back
afterwards, also when an assertion in the cell fails; otherwise training and plots further
down would silently run on the reference code.
"""

from __future__ import annotations

from typing import Any


def bind_until_cell_ends(namespace: dict[str, Any], **replacements: Any) -> None:
    """Bind ``replacements`` in ``namespace`` (a notebook's ``globals()``) for the rest of
    the running cell; the previous bindings come back when the cell ends, however it ends
    (passed, failed, interrupted). Works inside an IPython kernel only.

    Example, in hidden test code: ``bind_until_cell_ends(globals(), prototypes=_reference)``.
    """
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        raise RuntimeError("bind_until_cell_ends needs a running IPython kernel (a notebook)")
    missing = object()
    previous = {name: namespace.get(name, missing) for name in replacements}
    namespace.update(replacements)

    def put_back(*_result) -> None:
        shell.events.unregister("post_run_cell", put_back)
        for name, value in previous.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value

    shell.events.register("post_run_cell", put_back)
