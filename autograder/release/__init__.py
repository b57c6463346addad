"""The release path: the course directory, the hidden references, the release notebooks and bundle.

``rnn-assignment release`` (``autograder.release.release``) sets up the course
(``autograder.release.course``) and writes what students get.
"""
