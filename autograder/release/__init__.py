"""The release path: the course directory, the hidden references, the release notebooks and bundle.

``rnn-assignment release`` (``autograder.release.release``) sets up the course
(``autograder.release.course``) and writes what students get (the bundle:
``autograder.release.bundle``); its failures are ``autograder.release.errors.ReleaseError``.
"""
