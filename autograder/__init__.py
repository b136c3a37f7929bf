"""micrograd-kit: the reference, the student release and the autograder of a micrograd course."""
