"""Demo and benchmarks: the reference model trained and graded end to end, and its speed.

``make demo`` is ``autograder.demo.demo``; ``rnn-assignment bench`` is
``autograder.demo.bench``.
"""
