"""nbgrader's settings for this course: `nbgrader generate_assignment micrograd_lab` from here.

The source notebooks are generated into assignments/ by `mgkit release`, which also runs this
command (in a temporary course) to make release/micrograd_lab/.
"""

c = get_config()  # noqa: F821 (nbgrader provides it)
c.CourseDirectory.source_directory = "assignments"
c.CourseDirectory.release_directory = "release"
