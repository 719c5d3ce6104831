# nbgrader configuration for the cs182meta course folder (copied into build/course).
c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "cs182meta"
# Test cells are bounded at 10 s and training cells use the grading profile, but a slow
# laptop or a cold dataset cache must not zero a cell: allow 120 s per cell.
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# Released notebooks carry no outputs (the leak check verifies it).
c.ClearOutput.enabled = True
c.ExecutePreprocessor.kernel_name = "python3"
