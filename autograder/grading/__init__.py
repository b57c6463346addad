"""The grading path: collect, restore, run sandboxed on Dask workers, score, record, export.

``rnn-assignment grade`` is ``autograder.grading.coordinator.grade``. Its
modules, in the order a submission meets them:

    collect, collect_lms, upload,      submissions into the course's submitted/
    safe_files, notebook_names         (links never followed; renamed notebooks found)
    submitted_files, restore, jobs     submitted/ read, instructor cells put back, job keys
    cell_plan                          which cells of a restored notebook need not run
    fingerprint                        the code that decides a result, the code a worker runs
    dask_run, worker                   jobs on Dask workers
    sandbox/                           one notebook run in bubblewrap (limits: limits)
    results                            scores of a run (with autograder.grading.scoring), result files
    recording, nbgrader_config,        nbgrader's Autograde records the scores, then
    nbgrader_steps, gradebook_extras,  feedback HTML with instructor-only text withheld
    feedback_guard, feedback
    export, grade_table                grades.csv, grades_by_test.csv, review.csv; the table
    errors                             GradingError
"""
