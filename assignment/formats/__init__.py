"""The wire formats: files and records that cross a process or sandbox boundary.

One module per format; each is the only code that writes and reads it, and
the only place of its constants (format name, version, MIME type, limits,
environment variable names). Only the standard library, NumPy and
``assignment``: the grading kernel imports them inside the sandbox, and
nothing secret lives in a format.

    npz             deterministic .npz files with a JSON index (no pickles)
    check_file      check files: public_checks.npz and the instructors' references
    grading_inputs  what the student's kernel gets while it is graded
    replay_seal     sealed replay entries (part of the grading inputs)
    record          what the student's kernel reports to the scorer
"""
