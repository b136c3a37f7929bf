"""nbgrader's settings for this course: `nbgrader generate_assignment micrograd_lab` from here.

The source notebooks are generated into assignments/ by `mgkit release`, which also runs this
command (in a temporary course) to make release/micrograd_lab/.
"""

c = get_config()  # noqa: F821 (nbgrader provides it)
c.CourseDirectory.source_directory = "assignments"
c.CourseDirectory.release_directory = "release"

# `nbgrader autograde` puts back the source folder's files over each submission's, except these: a
# student's module-track files, should the course hand out the micrograd/ package with the notebook.
c.Autograde.exclude_overwriting = {
    "micrograd_lab":
    ["micrograd/__init__.py", "micrograd/engine.py", "micrograd/nn.py", "micrograd/train.py"],
}

# After the kernel has run a submission, `hidden_verdicts` writes each check cell's outputs from a
# grade made outside the kernel, so that no student cell can pass a check for itself. The rest is
# nbgrader 0.9's own list, in its order.
c.Autograde.autograde_preprocessors = [
    "nbgrader.preprocessors.Execute",
    "autograder.platforms.nbgrader.hidden_verdicts",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
