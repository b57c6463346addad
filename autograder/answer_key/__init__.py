"""The answer key and its unit table: instructor-only.

The solution exists once, in the source notebooks' solution cells
(``notebooks/*.ipynb``); ``solution`` builds the answer key from them.
What each graded unit is (its call protocol, cases, points) is declared once,
in ``assignment/units.py``; the modules here follow from the two:

    solution     the answer key, built from the notebooks (and overridden builds)
    mistakes     the known mistakes: small source edits of the solution, with hints
    seeds        the seed of every case (public key, or the course secret)
    inputs       draws a case's input arrays from its unit's declaration
    check_files  builds the references file and assignment/public_checks.npz
    replay       records the calls a unit makes to the functions it ``uses``
    cells        generates the notebooks' graded cells and the docs' unit table
"""
