"""bind_until_cell_ends: a test cell's reference swap is undone however the cell ends."""

import pytest
from IPython.core.interactiveshell import InteractiveShell


@pytest.fixture
def shell():
    shell = InteractiveShell.instance()
    yield shell
    InteractiveShell.clear_instance()


def run(shell, code):
    return shell.run_cell(code, store_history=False)


SWAP = (
    "from cs182meta.testing import bind_until_cell_ends\n"
    "def _reference(x):\n    return 'reference'\n"
    "bind_until_cell_ends(globals(), helper=_reference, absent=_reference)\n"
)


@pytest.mark.parametrize("cell_body, fails", [
    ("assert helper(1) == 'reference'", False),
    ("assert helper(1) == 'student', 'a failing visible assert'", True),
    ("raise KeyboardInterrupt", True),
])
def test_the_students_function_is_back_after_the_cell(shell, cell_body, fails):
    run(shell, "def helper(x):\n    return 'student'")
    result = run(shell, SWAP + cell_body)
    assert (result.error_in_exec is not None) == fails
    after = run(shell, "helper(1)")
    assert after.result == "student"
    assert "absent" not in shell.user_ns, "a name that did not exist before must not stay bound"
    assert run(shell, "helper(1)").result == "student"  # the hook ran once and is gone
    assert not shell.events.callbacks["post_run_cell"] or all(
        getattr(cb, "__name__", "") != "put_back" for cb in shell.events.callbacks["post_run_cell"])


def test_outside_a_kernel_it_says_so():
    from cs182meta.testing import bind_until_cell_ends

    with pytest.raises(RuntimeError, match="IPython kernel"):
        bind_until_cell_ends({}, helper=len)
