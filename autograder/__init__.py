"""The grading pipeline: source notebooks -> nbgrader release -> autograde -> feedback, grades.

Run ``python -m autograder --help``. The course folder (release, submissions, autograded
copies, feedback, gradebook) lives under ``build/course`` (git ignores ``build/``).
"""
