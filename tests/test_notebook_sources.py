"""Notebook sources (jupytext percent files): header keys, errors, the round trip, and the
exception-safe reference swap of composed test cells."""

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

from autograder import sources
from autograder.authoring import SourceError, check_test_cells, compact, expand, unbound_names
from autograder.samples import filled

GOOD = '''\
# %% [markdown] id="intro"
# # A title
#
# Some text.

# %% id="setup"
import math

# %% [parameters]
N = 3


# %% [solution] id="double"
def double(x):
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION


# %% [tests] id="double_tests" points=2 tags=["nbval-check-output"]
import math

from cs182meta.student import student

assert student.double(2) == 4
print(math.pi)

# %% [written] id="why" points=1
# Because *two* is the answer.

# %% [markdown]
# Plain text, editable.

# %%
x = 1
'''


def test_header_keys_expand_to_complete_nbgrader_metadata():
    nb = expand(GOOD, "good.py", "99_good")
    meta = [c.metadata.get("nbgrader") for c in nb.cells]
    assert meta[0] == {"grade": False, "grade_id": "intro", "locked": True, "schema_version": 3,
                       "solution": False, "task": False}
    assert meta[2]["grade_id"] == "parameters" and nb.cells[2].metadata["tags"] == ["parameters"]
    assert meta[3]["solution"] and not meta[3]["locked"] and not meta[3]["grade"]
    assert meta[4]["grade"] and meta[4]["locked"] and meta[4]["points"] == 2
    assert nb.cells[4].metadata["tags"] == ["nbval-check-output"]
    written = nb.cells[5]
    assert written.cell_type == "markdown" and meta[5]["grade"] and meta[5]["solution"]
    assert written.source == "### BEGIN SOLUTION\nBecause *two* is the answer.\n### END SOLUTION"
    assert meta[6] is None and meta[7] is None and nb.cells[7].cell_type == "code"
    assert [c["id"] for c in nb.cells][:2] == ["intro", "setup"]  # ids follow the grade ids
    assert nb.cells[6]["id"] == "99-006"


def test_compact_is_the_inverse_of_expand():
    assert compact(expand(GOOD, "good.py", "99_good")) == GOOD


@pytest.mark.parametrize("name", sources.assignments())
def test_every_source_round_trips_byte_for_byte(name):
    text = sources.source_path(name).read_text()
    assert compact(sources.notebook(name)) == text, (
        f"notebooks/src/{name}.py is not in canonical form: run `python -m autograder build` "
        f"then `python -m autograder sync {name}`"
    )


@pytest.mark.parametrize("text, line, message", [
    ('# %% [solutoin] id="a"\nx = 1\n', 1, "unknown cell kind [solutoin]"),
    ('# %% id="a" pionts=2\nx = 1\n', 1, "unknown header key(s) ['pionts']"),
    ('# %% id="a"\nx = 1\n\n# %% [markdown] id="a"\n# text\n', 4, "duplicate id 'a' (first at line 1)"),
    ('# %% id="a"\nx = 1\n\n# %% [solution] id="b"\ndef f():\n    return 1\n', 4,
     "needs ### BEGIN SOLUTION"),
    ('# %% id="a" points=2\nx = 1\n', 1, "points go on [tests] and [written] cells"),
    ('# %% [tests] id="t"\nassert True\n', 1, "points go on [tests] and [written] cells"),
    ('# %% [tests] id="t" points=-1\nassert True\n', 1, "points must be a positive number"),
    ('# %% [solution]\n### BEGIN SOLUTION\n### END SOLUTION\n', 1, 'needs an id="..."'),
    ('# %% id="has space"\nx = 1\n', 1, "must be 1-64 letters"),
    ('import os\n\n# %% id="a"\nx = 1\n', 1, "starts with a '# %%' cell header"),
])
def test_malformed_sources_name_the_file_and_line(text, line, message):
    with pytest.raises(SourceError) as error:
        expand(text, "notebooks/src/99_bad.py", "99_bad")
    assert f"notebooks/src/99_bad.py:{line}" in str(error.value)
    assert message in str(error.value)


@pytest.fixture
def scratch_sources(tmp_path, monkeypatch):
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "99_good.py").write_text(GOOD)
    monkeypatch.setattr(sources, "SOURCES", folder)
    return folder


def test_sync_brings_notebook_edits_back(scratch_sources, tmp_path):
    nb = sources.notebook("99_good")
    nb.cells[1].source += "\nimport os"  # edited in JupyterLab
    nb.cells.append(new_code_cell("y = 2", metadata={"collapsed": True}))
    nb.cells[4].outputs = [nbformat.v4.new_output("stream", name="stdout", text="3.14")]
    edited = tmp_path / "99_good.ipynb"
    nbformat.write(nb, edited)
    sources.sync("99_good", edited)
    text = (scratch_sources / "99_good.py").read_text()
    assert "import math\nimport os\n" in text and text.endswith("# %%\ny = 2\n")
    assert "3.14" not in text  # outputs stay in the notebook
    rebuilt = sources.notebook("99_good")
    assert [c.metadata.get("nbgrader") for c in rebuilt.cells[:-1]] == \
        [c.metadata.get("nbgrader") for c in nb.cells[:-1]]


def test_sync_refuses_metadata_the_source_cannot_hold(scratch_sources, tmp_path):
    nb = sources.notebook("99_good")
    nb.cells[3].metadata["nbgrader"]["locked"] = True  # a locked solution cell
    edited = tmp_path / "99_good.ipynb"
    nbformat.write(nb, edited)
    before = (scratch_sources / "99_good.py").read_text()
    with pytest.raises(SourceError, match="cell 3 has nbgrader metadata"):
        sources.sync("99_good", edited)
    assert (scratch_sources / "99_good.py").read_text() == before


def test_a_failing_composed_test_gives_the_student_their_own_functions_back(monkeypatch):
    """02's protonet_loss tests reach the student's code through ``student`` and bind no
    reference in its place; when a visible assert fails, the student's own functions must
    still be the ones bound afterwards."""
    monkeypatch.setenv("CS182META_PROFILE", "grading")
    source = sources.notebook("02_nonparametric")
    bug = next(b for b in sources.planted_bugs("02_nonparametric")
               if b.cell == "protonet_loss" and "classes[" in b.replace)
    nb = filled(source, source, bug=bug)  # hidden tests kept: what grading runs
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    nb.cells = nb.cells[: ids.index("protonet_loss_tests") + 1]
    nb.cells.append(new_code_cell(
        "assert prototypes is not globals().get('_reference_prototypes'), 'a reference is bound'\n"
        "assert protonet_logits is not globals().get('_reference_protonet_logits')\n"
        "print(prototypes.__name__, protonet_logits.__name__)"))
    NotebookClient(nb, timeout=120, allow_errors=True, kernel_name="python3").execute()
    failed = [o for o in nb.cells[-2].outputs if o.output_type == "error"]
    assert failed, "the planted bug must make the test cell fail"
    last = nb.cells[-1].outputs
    assert not [o for o in last if o.output_type == "error"], last
    assert "prototypes protonet_logits" in "".join(o.get("text", "") for o in last)


BUGS_COUNTING = '''\
from pathlib import Path

from autograder.authoring import PlantedBug

with open(Path(__file__).with_name("executions"), "a") as log:
    log.write("x")
BUGS = [PlantedBug(cell="double", find="2 * x", replace="{replace}", loses=("double_tests",),
                   why="adds")]
EQUIVALENT_MUTANTS = {{"return 2 * x -> return x * 2": "the same product"}}
'''


def test_planted_bugs_are_read_once_until_the_file_changes(scratch_sources):
    import os

    bugs = scratch_sources / "99_good.bugs.py"
    executions = scratch_sources / "executions"
    bugs.write_text(BUGS_COUNTING.format(replace="2 + x"))
    for _ in range(3):
        assert [b.replace for b in sources.planted_bugs("99_good")] == ["2 + x"]
        assert list(sources.equivalent_mutants("99_good")) == ["return 2 * x -> return x * 2"]
    assert executions.read_text() == "x", "one execution for six calls"
    sources.planted_bugs("99_good").clear()  # callers get copies: the cache is not theirs
    sources.equivalent_mutants("99_good").clear()
    assert len(sources.planted_bugs("99_good")) == len(sources.equivalent_mutants("99_good")) == 1

    stat = bugs.stat()
    bugs.write_text(BUGS_COUNTING.format(replace="x + 2"))  # edited: same size, so set its
    os.utime(bugs, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # time apart
    assert [b.replace for b in sources.planted_bugs("99_good")] == ["x + 2"]
    bugs.write_text(BUGS_COUNTING.format(replace="x + 2 * 1"))  # edited: another size
    os.utime(bugs, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even with the old time
    assert [b.replace for b in sources.planted_bugs("99_good")] == ["x + 2 * 1"]
    assert sources.planted_bugs("99_good")[0].replace == "x + 2 * 1"
    assert executions.read_text() == "xxx"

    bugs.unlink()
    with pytest.raises(FileNotFoundError, match="99_good.bugs.py is missing"):
        sources.planted_bugs("99_good")


# ------------------------------------------------------- test cells run apart from the notebook
def test_every_test_cell_reaches_the_notebook_only_through_student():
    for name in sources.assignments():
        check_test_cells(sources.source_path(name).read_text(), name)  # raises if not


def test_a_test_cell_that_names_a_solution_directly_is_refused(tmp_path):
    text = sources.source_path("00_episodes").read_text()
    planted = text.replace("student.nearest_neighbour_predict(support_x", "nearest_neighbour_predict(support_x", 1)
    assert planted != text
    line = planted[:planted.index("= nearest_neighbour_predict(support_x")].count("\n") + 1
    with pytest.raises(SourceError) as error:
        check_test_cells(planted, "00_episodes.py")
    assert f"00_episodes.py:{line}:" in str(error.value)
    assert "student.nearest_neighbour_predict" in str(error.value)


def test_unbound_names_sees_every_way_a_cell_binds_a_name():
    source = (
        "import torch\nfrom torch import nn as neural\nx = 1\nfor i in range(3):\n    pass\n"
        "def f(a, *rest, key=None, **more):\n    return a, rest, key, more, g\n"
        "class C:\n    pass\n[j for j in range(i)]\ntry:\n    pass\nexcept ValueError as err:\n"
        "    print(err)\nwith open('x') as handle:\n    pass\n"
        "print(torch, neural, x, f, C, handle, N_WAY, len)\n")
    assert unbound_names(source) == [("g", 7), ("N_WAY", 17)]
