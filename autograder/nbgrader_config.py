# nbgrader configuration for the cs182meta course folder. Course.prepare writes it into
# build/course with the limits' values in place (autograder.nbgrader_api.course_config_text):
# nbgrader loads the course's copy where the `autograder` package may not be importable.
from autograder.limits import Limits

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "cs182meta"
# Test cells are bounded at 10 s and training cells use the grading profile, but a slow
# laptop or a cold dataset cache must not zero a cell: the per-cell limit of the grader.
c.Execute.timeout = Limits().cell_s
c.Execute.interrupt_on_timeout = True
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# Released notebooks carry no outputs (the leak check verifies it).
c.ClearOutput.enabled = True
c.ExecutePreprocessor.kernel_name = "python3"
