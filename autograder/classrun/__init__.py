"""`mgkit grade-all`: a class. Its hand-ins as courses collect them (handins.py, read by the one
bounded reader, reader.py), the processes that grade them (graders.py), the run and its folder
(gradebook.py), a stable share of the class (shards.py), what moved in a regrade (regrade.py)
and the class's pages (dashboard.py)."""
